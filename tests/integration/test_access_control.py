"""Real sockets: API keys in each accepted form, 401/403 before the upgrade, observer keys."""

from collections.abc import Sequence
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from service.auth import KeyRing
from tests.helpers import connect, message, running_server
from tests.http_client import handshake

WRITER_KEY = "writer-key-0123456789abcdef"
OBSERVER_KEY = "observer-key-0123456789abcdef"
KEYS = KeyRing.from_table(
    {
        "keys": [
            {"name": "support", "key": WRITER_KEY, "conversations": ["support-*", "lobby"]},
            {"name": "watcher", "key": OBSERVER_KEY, "role": "observer", "conversations": ["*"]},
        ]
    }
)


async def rejection(
    url: str, headers: Sequence[tuple[str, str]] = (), subprotocols: Sequence[str] = ()
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of a refused handshake."""
    status, response_headers, body = await handshake(url, headers, subprotocols)
    assert response_headers["content-type"] == "application/json"
    parsed: dict[str, Any] = orjson.loads(body)
    return status, parsed


async def test_missing_and_unknown_keys_get_401_with_a_json_body() -> None:
    async with running_server(api_keys=KEYS) as url:
        status, body = await rejection(url + "?conversation=lobby")
        assert status == 401
        assert body["error"]["code"] == "missing_api_key"
        status, body = await rejection(
            url + "?conversation=lobby", [("authorization", "Bearer not-a-key-at-all-000")]
        )
        assert (status, body["error"]["code"]) == (401, "invalid_api_key")
        assert "not-a-key" not in orjson.dumps(body).decode()


async def test_a_key_outside_its_conversations_gets_403() -> None:
    async with running_server(api_keys=KEYS) as url:
        headers = [("authorization", f"Bearer {WRITER_KEY}")]
        status, body = await rejection(url + "?conversation=sales-1", headers)
        assert (status, body["error"]["code"]) == (403, "conversation_forbidden")
        # Without a conversation the server would generate an id the key does not cover.
        status, _ = await rejection(url, headers)
        assert status == 403


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [
        ({"authorization": f"Bearer {WRITER_KEY}"}, ()),
        ({"api_key": WRITER_KEY}, ()),
        ({}, ("realtime", f"openai-insecure-api-key.{WRITER_KEY}", "openai-beta.realtime-v1")),
    ],
    ids=["bearer", "api-key", "subprotocol"],
)
async def test_each_way_of_sending_a_key_lets_a_writer_in(
    headers: dict[str, str], subprotocols: tuple[str, ...]
) -> None:
    async with running_server(api_keys=KEYS) as url:
        target = url + "?conversation=support-42"
        if subprotocols:
            with trio.fail_after(10):
                async with open_websocket_url(target, subprotocols=subprotocols) as websocket:
                    assert websocket.subprotocol == "realtime"  # browsers need one echoed
                    created = orjson.loads(await websocket.get_message())
                    assert created["type"] == "session.created"
                    await websocket._stream.aclose()
            return
        async with connect(target, **headers) as client:
            await client.send({"type": "conversation.item.create", "item": message("m1")})
            created = await client.receive_type("conversation.item.created")
            assert created["item"]["id"] == "m1"


async def test_an_observer_key_reads_but_cannot_write() -> None:
    async with (
        running_server(api_keys=KEYS) as url,
        connect(url + "?conversation=lobby", authorization=f"Bearer {WRITER_KEY}") as writer,
        connect(url + "?conversation=lobby", api_key=OBSERVER_KEY) as observer,
    ):
        await observer.send(
            {"type": "conversation.item.create", "event_id": "e1", "item": message("o1")}
        )
        error = await observer.receive_type("error")
        assert error["error"]["code"] == "observer_cannot_write"
        assert error["error"]["event_id"] == "e1"
        await observer.send({"type": "conversation.item.delete", "item_id": "o1"})
        assert (await observer.receive_type("error"))["error"]["code"] == "observer_cannot_write"
        await writer.send({"type": "conversation.item.create", "item": message("w1")})
        seen = await observer.receive_type("conversation.item.created")
        assert seen["item"]["id"] == "w1"  # o1 never made it: the writer's item comes first
        assert seen["previous_item_id"] is None
