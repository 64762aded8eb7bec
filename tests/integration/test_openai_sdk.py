"""The official ``openai`` Python SDK, both dialects, against a Chorus server on 127.0.0.1.

The SDK runs on asyncio and the suite on Trio, so Chorus runs as a subprocess
(``python -m service serve --port 0``) and each test drives the SDK with ``asyncio.run`` from a
plain synchronous test function. Every frame Chorus sends is checked against the SDK's typed
model for its ``type``: it validates, and dumping it gives back the exact JSON (no field lost).
"""

import asyncio
import json
import secrets
import select
import subprocess
import sys
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import openai
import pydantic
import pytest
from openai.types.beta.realtime.realtime_server_event import (
    RealtimeServerEvent as BetaServerEvent,
)
from openai.types.realtime.realtime_server_event import RealtimeServerEvent as GaServerEvent

TIMEOUT = 10
GA_MODEL = "gpt-realtime"
BETA_MODEL = "gpt-4o-realtime-preview"
# Fields the SDK's models do not declare, which pydantic keeps as extras: the session's id and
# object, and Chorus's extensions (docs/observers.md): ``log_id`` and every change's ``position``.
KNOWN_EXTRAS = {"session.id", "session.object", "log_id", "position"}


def _models_by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in members}


MODELS = {"ga": _models_by_type(GaServerEvent), "beta": _models_by_type(BetaServerEvent)}


@pytest.fixture(scope="module")
def chorus_port() -> Iterator[int]:
    """A Chorus server in a subprocess, on a free port, with an in-memory store."""
    command = [sys.executable, "-m", "service", "serve", "--port", "0", "--store", "memory://"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
            assert ready, "chorus did not start in time"
            line = process.stdout.readline()
            assert line.startswith("chorus listening on ws://127.0.0.1:"), line
            yield int(line.rsplit(":", 1)[1].split("/", 1)[0])
        finally:
            process.terminate()
            process.wait(TIMEOUT)


class Session:
    """An SDK connection that checks every frame against the SDK's model for its type."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def receive(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv_bytes(), TIMEOUT)
        event: dict[str, Any] = json.loads(raw)
        check_typed(event, self.dialect, self.connection.parse_event(raw))
        return event

    async def receive_type(self, type_name: str) -> dict[str, Any]:
        event = await self.receive()
        assert event["type"] == type_name, event
        return event

    async def created(self) -> dict[str, Any]:
        """The item of the next creation, in this dialect's shape (checked against each other)."""
        if self.dialect == "beta":
            return await self.receive_type("conversation.item.created")
        added = await self.receive_type("conversation.item.added")
        done = await self.receive_type("conversation.item.done")
        assert added["item"] == done["item"]
        assert added["previous_item_id"] == done["previous_item_id"]
        return added

    async def error(self) -> dict[str, Any]:
        detail: dict[str, Any] = (await self.receive_type("error"))["error"]
        return detail


def check_typed(event: dict[str, Any], dialect: str, parsed: object) -> None:
    """``event`` is exactly what the SDK's model for its type holds, both parsed and validated."""
    model = MODELS[dialect][event["type"]]
    assert type(parsed) is model
    validated = model.model_validate(event)
    for instance in (parsed, validated):
        assert isinstance(instance, pydantic.BaseModel)
        assert instance.model_dump(mode="json", exclude_unset=True) == event
    assert set(_extras(validated, "")) <= KNOWN_EXTRAS


def _extras(value: object, path: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        for name in value.model_extra or {}:
            yield f"{path}{name}"
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{path}{name}.")
    elif isinstance(value, list):
        for element in value:
            yield from _extras(element, path)


def _client(port: int) -> openai.AsyncOpenAI:
    # base_url points at a closed port: any HTTP call would fail fast rather than leave the host.
    return openai.AsyncOpenAI(
        api_key="test",
        base_url="http://127.0.0.1:9/v1",
        websocket_base_url=f"ws://127.0.0.1:{port}/v1",
        max_retries=0,
    )


@asynccontextmanager
async def sdk(port: int, dialect: str, conversation: str) -> AsyncIterator[Session]:
    """An SDK connection of ``dialect`` to ``conversation``, past its two greeting events."""
    client = _client(port)
    manager: AbstractAsyncContextManager[Any]
    if dialect == "ga":
        manager = client.realtime.connect(
            model=GA_MODEL, extra_query={"conversation": conversation}
        )
    else:
        manager = client.beta.realtime.connect(
            model=BETA_MODEL, extra_query={"conversation": conversation}
        )
    async with manager as connection:
        session = Session(connection, dialect)
        created = await session.receive_type("session.created")
        assert created["session"]["id"].startswith("sess_")
        greeting = await session.receive_type("conversation.created")
        assert greeting["conversation"] == {"id": conversation, "object": "realtime.conversation"}
        yield session


def fresh(prefix: str) -> str:
    """A conversation id no other test uses (the server lives for the whole module)."""
    return f"{prefix}-{secrets.token_hex(6)}"


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 3 * TIMEOUT))


def user(item_id: str, text: str = "hello") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


DIALECTS = ["ga", "beta"]


# -- the item API, per dialect --------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_append_root_and_insert_after(chorus_port: int, dialect: str) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            # The SDK's own typed helper for create.
            await session.connection.conversation.item.create(item=user("a"))
            assert (await session.created())["previous_item_id"] is None
            await session.connection.conversation.item.create(item=user("b"))
            assert (await session.created())["previous_item_id"] == "a"
            await session.send(
                {"type": "conversation.item.create", "previous_item_id": "root", "item": user("r")}
            )
            assert (await session.created())["previous_item_id"] is None
            await session.send(
                {"type": "conversation.item.create", "previous_item_id": "a", "item": user("m")}
            )
            created = await session.created()
            assert created["previous_item_id"] == "a"
            assert created["item"] == {
                "id": "m",
                "type": "message",
                "object": "realtime.item",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            }

    run(scenario)


ASSISTANT_TEXT = {"ga": "output_text", "beta": "text"}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_item_kind_round_trips(chorus_port: int, dialect: str) -> None:
    audio = "AAAAAA=="
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "be brief"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "input_audio", "audio": audio, "transcript": "hi"},
            ],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": ASSISTANT_TEXT[dialect], "text": "hello"}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    if dialect == "ga":
        items[1]["content"].append(
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}
        )

    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            for item in items:
                await session.send({"type": "conversation.item.create", "item": item})
                stored = (await session.created())["item"]
                assert stored["id"].startswith("item_")
                assert len(stored["id"]) == len("item_") + 21
                assert {key: stored[key] for key in item} == item

    run(scenario)


CREATE_ERRORS: list[tuple[str, dict[str, Any], str, str, str]] = [
    # (dialect or "both", event, code, param, message)
    (
        "both",
        {"type": "conversation.item.create", "previous_item_id": "nope", "item": user("x")},
        "item_create_invalid_previous_item_id",
        "previous_item_id",
        "Error adding item: the previous item with id 'nope' does not exist.",
    ),
    (
        "both",
        {"type": "conversation.item.create", "item": user("dup")},
        "item_create_duplicate_item_id",
        "item.id",
        "Error adding item: the item with id 'dup' already exists.",
    ),
    (
        "both",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_X", "output": "1"},
        },
        "invalid_tool_call_id",
        "item.call_id",
        "Tool call ID 'call_X' not found in conversation.",
    ),
    (
        "both",
        {"type": "conversation.item.create", "item": {**user("x"), "colour": "red"}},
        "unknown_parameter",
        "item.colour",
        "Unknown parameter: 'item.colour'.",
    ),
    (
        "both",
        {"type": "conversation.item.create", "item": {"role": "user", "content": []}},
        "missing_required_parameter",
        "item.type",
        "Missing required parameter: 'item.type'.",
    ),
    (
        "both",
        {"type": "conversation.item.create", "item": user("x" * 33)},
        "string_above_max_length",
        "item.id",
        "Invalid 'item.id': string too long. Expected a string with maximum length 32, "
        "but got a string with length 33 instead.",
    ),
    (
        "both",
        {"type": "conversation.item.create", "item": {**user("x"), "role": 1}},
        "invalid_type",
        "item.role",
        "Invalid type for 'item.role': expected a string, but got an integer instead.",
    ),
    (
        "both",
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_audio", "audio": "AAAA"}],
            },
        },
        "invalid_value",
        "item.content[0].type",
        "Invalid value: 'input_audio'. Supported values are: 'input_text'.",
    ),
    (
        "both",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        },
        "missing_required_parameter",
        "item.content[0].text",
        "Missing required parameter: 'item.content[0].text'.",
    ),
    (
        "both",
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "not base64!"}],
            },
        },
        "invalid_value",
        "item.content[0].audio",
        "Invalid 'item.content[0].audio': expected base64-encoded audio bytes.",
    ),
    (
        "ga",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "text"}]},
        },
        "invalid_value",
        "item.content[0].type",
        "Invalid value: 'text'. Supported values are: 'output_text'.",
    ),
    (
        "beta",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]},
        },
        "invalid_value",
        "item.content[0].type",
        "Invalid value: 'output_text'. Supported values are: 'text'.",
    ),
    (
        "ga",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call", "name": "f"},
        },
        "missing_required_parameter",
        "item.arguments",
        "Missing required parameter: 'item.arguments'.",
    ),
    (
        "ga",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c", "output": "o", "name": "f"},
        },
        "unknown_parameter",
        "item.name",
        "Unknown parameter: 'item.name'.",
    ),
]
CREATE_ERROR_CASES = [
    pytest.param(dialect, event, code, param, message, id=f"{dialect}-{code}-{param}")
    for target, event, code, param, message in CREATE_ERRORS
    for dialect in DIALECTS
    if target in ("both", dialect)
]


@pytest.mark.parametrize(("dialect", "event", "code", "param", "message"), CREATE_ERROR_CASES)
def test_create_errors(
    chorus_port: int, dialect: str, event: dict[str, Any], code: str, param: str, message: str
) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            await session.send({"type": "conversation.item.create", "item": user("dup")})
            await session.created()
            await session.send({**event, "event_id": "evt_client_1"})
            error = await session.error()
            assert error == {
                "type": "invalid_request_error",
                "code": code,
                "message": message,
                "param": param,
                "event_id": "evt_client_1",
            }
            # The conversation is unchanged and the connection still works.
            await session.send({"type": "conversation.item.create", "item": user("after")})
            assert (await session.created())["previous_item_id"] == "dup"

    run(scenario)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_retrieve_and_delete(chorus_port: int, dialect: str) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            items = session.connection.conversation.item
            await items.create(item=user("a", "first"))
            stored = (await session.created())["item"]
            await items.retrieve(item_id="a")
            assert (await session.receive_type("conversation.item.retrieved"))["item"] == stored
            await items.retrieve(item_id="zz", event_id="evt_r")
            assert await session.error() == {
                "type": "invalid_request_error",
                "code": "item_retrieve_invalid_item_id",
                "message": "Error retrieving item: the item with id 'zz' does not exist.",
                "param": "item_id",
                "event_id": "evt_r",
            }
            await items.delete(item_id="a")
            assert (await session.receive_type("conversation.item.deleted"))["item_id"] == "a"
            await items.delete(item_id="a")
            assert (await session.error())["code"] == "item_delete_invalid_item_id"
            await items.retrieve(item_id="a")
            assert (await session.error())["code"] == "item_retrieve_invalid_item_id"
            await session.send(
                {"type": "conversation.item.create", "previous_item_id": "a", "item": user("b")}
            )
            assert (await session.error())["code"] == "item_create_invalid_previous_item_id"

    run(scenario)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_truncate_is_validated_with_the_real_codes(chorus_port: int, dialect: str) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            items = session.connection.conversation.item
            await items.create(item=user("a"))
            await session.created()
            await items.truncate(item_id="zz", content_index=0, audio_end_ms=0)
            error = await session.error()
            assert (error["code"], error["param"]) == ("item_truncate_invalid_item_id", "item_id")
            # Only model output audio can be truncated, and no client can create any.
            await items.truncate(item_id="a", content_index=0, audio_end_ms=0)
            error = await session.error()
            assert error["code"] == "unsupported_content_type"
            assert error["message"] == "Only model output audio messages can be truncated"
            await session.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": "a",
                    "content_index": 0,
                    "audio_end_ms": -5,
                }
            )
            error = await session.error()
            assert (error["code"], error["param"]) == ("integer_below_min_value", "audio_end_ms")

    run(scenario)


SESSION_UPDATES: dict[str, dict[str, Any]] = {
    "ga": {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]},
    "beta": {"instructions": "Be brief.", "modalities": ["text"], "temperature": 0.7},
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_session_update_is_echoed_to_that_connection_only(chorus_port: int, dialect: str) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with (
            sdk(chorus_port, dialect, conversation) as session,
            sdk(chorus_port, dialect, conversation) as other,
        ):
            await session.connection.session.update(session=SESSION_UPDATES[dialect])
            updated = (await session.receive_type("session.updated"))["session"]
            assert updated.items() >= SESSION_UPDATES[dialect].items()
            assert updated["id"].startswith("sess_")
            await session.send({"type": "session.update", "session": {"colour": "red"}})
            assert (await session.error())["param"] == "session.colour"
            # The other connection saw neither; its next event is the next change.
            await other.send({"type": "conversation.item.create", "item": user("x")})
            await other.created()
            await session.created()

    run(scenario)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "event",
    [
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {"type": "output_audio_buffer.clear"},
        {"type": "response.create"},
        {"type": "response.cancel"},
        {"type": "transcription_session.update", "session": {}},
    ],
    ids=lambda event: event["type"],
)
def test_unsupported_events_get_a_clear_error(
    chorus_port: int, dialect: str, event: dict[str, Any]
) -> None:
    conversation = fresh("test")

    async def scenario() -> None:
        async with sdk(chorus_port, dialect, conversation) as session:
            await session.send({**event, "event_id": "evt_u"})
            error = await session.error()
            assert error["code"] == "unsupported_event"
            assert error["param"] == "type"
            assert error["event_id"] == "evt_u"
            assert "does not generate responses or process audio" in error["message"]
            assert f"'{event['type']}'" in error["message"]

    run(scenario)


# -- both dialects in one conversation ------------------------------------------------------------


def test_beta_and_ga_connections_share_one_conversation(chorus_port: int) -> None:
    conversation = fresh("mixed")
    assistant = {
        "type": "message",
        "id": "assistant_1",
        "role": "assistant",
        "content": [{"type": "text", "text": "hi"}],
    }
    steps: list[tuple[str, dict[str, Any]]] = [
        ("ga", {"type": "conversation.item.create", "item": user("from_ga")}),
        ("beta", {"type": "conversation.item.create", "item": user("from_beta")}),
        (
            "beta",
            {"type": "conversation.item.create", "previous_item_id": "root", "item": assistant},
        ),
        (
            "beta",
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call", "id": "fc", "call_id": "call_1"},
            },
        ),
        ("ga", {"type": "conversation.item.delete", "item_id": "from_ga"}),
    ]

    async def scenario() -> None:
        async with (
            sdk(chorus_port, "ga", conversation) as ga,
            sdk(chorus_port, "beta", conversation) as beta,
        ):
            sessions = {"ga": ga, "beta": beta}
            seen: dict[str, list[tuple[str, str | None]]] = {"ga": [], "beta": []}
            # One step at a time: changes from two connections have no order between them.
            for sender, event in steps:
                await sessions[sender].send(event)
                for dialect, session in sessions.items():
                    if event["type"] == "conversation.item.delete":
                        deleted = await session.receive_type("conversation.item.deleted")
                        seen[dialect].append((deleted["item_id"], "deleted"))
                    else:
                        created = await session.created()
                        seen[dialect].append((created["item"]["id"], created["previous_item_id"]))
            assert seen["ga"] == seen["beta"]
            assert seen["ga"] == [
                ("from_ga", None),
                ("from_beta", "from_ga"),
                ("assistant_1", None),
                ("fc", "from_beta"),
                ("from_ga", "deleted"),
            ]
            # Each side reads the assistant's text in its own dialect.
            await ga.connection.conversation.item.retrieve(item_id="assistant_1")
            await beta.connection.conversation.item.retrieve(item_id="assistant_1")
            ga_item = (await ga.receive_type("conversation.item.retrieved"))["item"]
            beta_item = (await beta.receive_type("conversation.item.retrieved"))["item"]
            assert ga_item["content"] == [{"type": "output_text", "text": "hi"}]
            assert beta_item["content"] == [{"type": "text", "text": "hi"}]
            # A beta function call without name/arguments is still complete for GA clients.
            await ga.connection.conversation.item.retrieve(item_id="fc")
            call = (await ga.receive_type("conversation.item.retrieved"))["item"]
            assert (call["name"], call["arguments"]) == ("", "")

    run(scenario)
