"""The gateway over in-memory streams: handshake checks, hello events, errors keep the line open."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    wrap_client_stream,
    wrap_server_stream,
)

from actors.registry import Registry
from actors.store.base import EventStore, StoredEvent
from actors.store.memory import MemoryEventStore
from service.config import Settings
from service.gateway import (
    CLOSE_RESUME_UNAVAILABLE,
    HandshakeRejected,
    handle_request,
    parse_target,
)


@asynccontextmanager
async def gateway_client(
    target: str,
    store: EventStore | None = None,
    handled: trio.Event | None = None,
    inbox_size: int = 1024,
) -> AsyncIterator[WebSocketConnection]:
    """A client connected over a memory stream to a gateway (with a memory store by default).

    ``handled`` is set once the gateway's handler for the connection has returned.
    """
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        store = store if store is not None else MemoryEventStore()
        registry = Registry(store, nursery, inbox_size=inbox_size)

        async def server() -> None:
            request = await wrap_server_stream(nursery, server_stream)
            await handle_request(request, registry, Settings(store_url="memory://"))
            if handled is not None:
                handled.set()

        nursery.start_soon(server)
        with trio.fail_after(5):
            client = await wrap_client_stream(
                nursery,
                client_stream,  # type: ignore[arg-type]
                "localhost",
                target,
                extra_headers=[(b"OpenAI-Beta", b"realtime=v1")],
            )
        yield client
        nursery.cancel_scope.cancel()


async def next_event(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(5):
        event: dict[str, Any] = orjson.loads(await ws.get_message())
    return event


async def test_hello_then_created_for_a_named_conversation() -> None:
    async with gateway_client("/v1/realtime?conversation=room-1&model=gpt-x") as ws:
        session = await next_event(ws)
        assert session["type"] == "session.created"
        assert session["session"]["id"].startswith("sess_")
        assert session["session"]["object"] == "realtime.session"
        conversation = await next_event(ws)
        assert conversation["type"] == "conversation.created"
        assert conversation["conversation"] == {"id": "room-1", "object": "realtime.conversation"}
        assert session["event_id"] != conversation["event_id"]


async def test_without_a_conversation_a_new_id_is_generated() -> None:
    async with gateway_client("/v1/realtime") as ws:
        await next_event(ws)
        conversation = await next_event(ws)
        assert conversation["conversation"]["id"].startswith("conv_")


async def test_bad_frames_get_errors_and_the_connection_stays_open() -> None:
    async with gateway_client("/v1/realtime?conversation=c") as ws:
        await next_event(ws)
        await next_event(ws)
        await ws.send_message("{oops")
        await ws.send_message(b"\x00binary")
        await ws.send_message('{"type": "conversation.item.create", "event_id": "e9"}')
        codes = [(await next_event(ws))["error"] for _ in range(3)]
        assert [e["code"] for e in codes] == [
            "invalid_json",
            "invalid_event",
            "missing_required_parameter",
        ]
        assert codes[2]["event_id"] == "e9"
        create = {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": []},
        }
        await ws.send_message(orjson.dumps(create).decode())
        created = await next_event(ws)
        assert created["type"] == "conversation.item.created"
        assert created["item"]["id"].startswith("item_")
        assert len(created["item"]["id"]) == len("item_") + 21


def test_other_query_parameters_are_ignored() -> None:
    join = parse_target("/v1/realtime?model=gpt-4o-realtime&conversation=abc_-9&foo=1")
    assert join.conversation_id == "abc_-9"
    assert join.model == "gpt-4o-realtime"
    with pytest.raises(HandshakeRejected):
        parse_target("/v1/realtime?conversation=a.b")


class GatedStore(MemoryEventStore):
    """Reads wait until ``opened`` is set: the actor is still loading the conversation."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = trio.Event()

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        await self.opened.wait()
        return await super().read(conversation_id, after_version, limit)


async def test_a_message_waiting_for_a_refused_resume_does_not_hold_up_the_close() -> None:
    # The message waits in trio-websocket's reader task for a history that never comes; the
    # refusal and its close must still go out, and the server's handler finish.
    store = GatedStore()
    handled = trio.Event()
    target = "/v1/realtime?conversation=c&after=5"  # past the end: refused once loaded
    async with gateway_client(target, store, handled) as ws:
        with trio.fail_after(5):
            await ws.send_message('{"type": "conversation.item.create", "item": {}}')
            await trio.testing.wait_all_tasks_blocked()
            store.opened.set()
            types = [(await next_event(ws))["type"] for _ in range(3)]
            assert types == ["session.created", "conversation.created", "error"]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason is not None
            assert closed.value.reason.code == CLOSE_RESUME_UNAVAILABLE
            await handled.wait()


async def test_session_updates_build_on_the_created_session_and_on_each_other() -> None:
    async with gateway_client("/v1/realtime?conversation=room-s&model=gpt-x") as ws:
        created = (await next_event(ws))["session"]
        await next_event(ws)  # conversation.created
        first = {"instructions": "Be brief.", "turn_detection": {"type": "none"}}
        await ws.send_message(orjson.dumps({"type": "session.update", "session": first}).decode())
        updated = await next_event(ws)
        assert updated["type"] == "session.updated"
        assert updated["session"] == {**created, **first}
        second = {"temperature": 0.7, "turn_detection": {"silence_ms": 5}}
        await ws.send_message(orjson.dumps({"type": "session.update", "session": second}).decode())
        again = (await next_event(ws))["session"]
        assert again == {
            **created,
            "instructions": "Be brief.",
            "temperature": 0.7,
            "turn_detection": {"type": "none", "silence_ms": 5},
        }
        assert again["id"] == created["id"]
        assert again["model"] == "gpt-x"


class HeldStore(MemoryEventStore):
    """Appends wait until ``opened`` is set: the actor stalls and its inbox fills."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = trio.Event()

    async def append(self, conversation_id: str, expected: int, events: Any) -> int:
        await self.opened.wait()
        return await super().append(conversation_id, expected, events)


async def test_creates_that_find_the_inbox_full_wait_their_turn_and_keep_their_order() -> None:
    store = HeldStore()
    async with gateway_client("/v1/realtime?conversation=full", store, inbox_size=1) as ws:
        for expected in ("session.created", "conversation.created"):
            assert (await next_event(ws))["type"] == expected
        ids = [f"i{n}" for n in range(6)]
        for item_id in ids:
            create = {
                "type": "conversation.item.create",
                "item": {"id": item_id, "type": "message", "role": "user", "content": []},
            }
            await ws.send_message(orjson.dumps(create).decode())
        await trio.testing.wait_all_tasks_blocked()
        store.opened.set()
        created = [(await next_event(ws))["item"]["id"] for _ in ids]
    assert created == ids
