"""What both baseline servers share: the URL check, the greeting events and the CLI."""

from __future__ import annotations

import argparse
import re
import resource
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

PATH = "/v1/realtime"
_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def conversation_of(target: str) -> str | None:
    """The conversation id in a request target like ``/v1/realtime?conversation=ID``."""
    parts = urlsplit(target)
    if parts.path != PATH:
        return None
    ids = parse_qs(parts.query).get("conversation", [])
    return ids[0] if ids and _CONVERSATION_ID.match(ids[0]) else None


def greetings(conversation_id: str) -> list[str]:
    """``session.created`` and ``conversation.created``, as sent on connect."""
    return [
        orjson.dumps(
            {
                "type": "session.created",
                "event_id": "event_session",
                "session": {"id": "sess_baseline", "object": "realtime.session"},
            }
        ).decode(),
        orjson.dumps(
            {
                "type": "conversation.created",
                "event_id": "event_conversation",
                "conversation": {"id": conversation_id, "object": "realtime.conversation"},
            }
        ).decode(),
    ]


def created_frame(
    item: dict[str, Any], previous_id: str | None, counter: Iterator[int]
) -> tuple[str, str | None]:
    """The ``conversation.item.created`` text for ``item`` after ``previous_id``, and its id."""
    created = {
        "type": "conversation.item.created",
        "event_id": f"event_{next(counter)}",
        "previous_item_id": previous_id,
        "item": item,
    }
    return orjson.dumps(created).decode(), item.get("id")


def parse_args(prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return args


def listening_line(name: str, host: str, port: int) -> str:
    """The line a server prints once it accepts connections (the bench waits for it)."""
    return f"{name} listening on ws://{host}:{port}{PATH}"
