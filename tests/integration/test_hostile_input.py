"""Hostile input over real sockets: arbitrary JSON, mutated events, huge and deeply nested
payloads, binary frames, invalid UTF-8 and floods. The server answers with ``error`` events or
documented close codes, no actor crashes, and the conversation does not change."""

import json
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionClosed

from service.protocol import codec
from service.protocol.dialects import Dialect
from service.shutdown import ServerControl
from tests.helpers import Client, connect, message, running_server
from tests.http_client import handshake, request
from tests.servers import controlled_server

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)
event_types = st.sampled_from(
    ["conversation.item.create", "conversation.item.retrieve", "conversation.item.delete"]
)
# Objects that look like client events: a real type, the rest arbitrary.
event_like = st.builds(
    lambda kind, body: {**body, "type": kind},
    event_types,
    st.dictionaries(
        st.sampled_from(["event_id", "item", "item_id", "previous_item_id"]), json_values
    ),
)


def valid_create(n: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "event_id": f"ev{n}",
        "previous_item_id": "base",
        "item": {
            "id": f"new{n}",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        },
    }


PATHS: list[tuple[str, ...]] = [
    ("type",),
    ("event_id",),
    ("previous_item_id",),
    ("item",),
    ("item", "id"),
    ("item", "type"),
    ("item", "role"),
    ("item", "content"),
    ("item", "content", "0"),
    ("item", "content", "0", "type"),
    ("item", "content", "0", "text"),
    ("item", "status"),
    ("item", "colour"),
]


def mutate(event: dict[str, Any], path: tuple[str, ...], value: object, delete: bool) -> None:
    """Replace (or delete) the value at ``path``; a path an earlier mutation broke is skipped."""
    target: Any = event
    for key in path[:-1]:
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            return
    last = path[-1]
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        if delete:
            del target[int(last)]
        else:
            target[int(last)] = value
    elif isinstance(target, dict):
        if delete:
            target.pop(last, None)
        else:
            target[last] = value


mutations = st.lists(
    st.tuples(st.sampled_from(PATHS), json_values, st.booleans()), min_size=1, max_size=3
)


@asynccontextmanager
async def arena() -> AsyncIterator[tuple[str, ServerControl, Client, Client]]:
    """A server with one conversation holding item ``base``, an attacker and an observer on it."""
    async with (
        controlled_server(rate_limit=0) as (url, control),
        connect(url + "?conversation=target") as attacker,
        connect(url + "?conversation=target") as observer,
    ):
        await observer.send({"type": "conversation.item.create", "item": message("base")})
        await observer.receive_type("conversation.item.created")
        await attacker.receive_type("conversation.item.created")
        yield url, control, attacker, observer


async def metric(control: ServerControl, name: str) -> float:
    """The first sample of the metric family ``name``."""
    _, _, body = await request(f"http://127.0.0.1:{control.http_port}/metrics")
    for family in text_string_to_metric_families(body.decode()):
        if family.name == name:
            return family.samples[0].value
    raise AssertionError(f"no {name} metric")


async def crashes(control: ServerControl) -> float:
    return await metric(control, "chorus_actor_crashes")


async def assert_unchanged(control: ServerControl, observer: Client) -> None:
    """Nothing was broadcast since ``base``, and the actor is alive and never crashed."""
    await observer.send({"type": "conversation.item.retrieve", "item_id": "base"})
    assert (await observer.receive())["type"] == "conversation.item.retrieved"
    assert await crashes(control) == 0


async def answers(attacker: Client, frames: list[str | bytes]) -> list[dict[str, Any]]:
    for frame in frames:
        await attacker.send_raw(frame)
    return [await attacker.receive() for _ in frames]


@FUZZ
@given(values=st.lists(json_values | event_like, min_size=1, max_size=8))
async def test_arbitrary_json_gets_error_events_and_changes_nothing(values: list[object]) -> None:
    async with arena() as (_, control, attacker, observer):
        replies = await answers(attacker, [json.dumps(v) for v in values])
        assert all(reply["type"] in ("error", "conversation.item.retrieved") for reply in replies)
        await assert_unchanged(control, observer)


@FUZZ
@given(text=st.lists(st.text(max_size=200), min_size=1, max_size=5), raw=st.binary(max_size=200))
async def test_arbitrary_text_and_binary_frames_get_error_events(
    text: list[str], raw: bytes
) -> None:
    async with arena() as (_, control, attacker, observer):
        replies = await answers(attacker, [*text, raw])
        assert {reply["type"] for reply in replies} <= {"error", "conversation.item.retrieved"}
        assert replies[-1]["error"]["code"] == "invalid_event"  # binary frames are refused
        await assert_unchanged(control, observer)


@FUZZ
@given(batch=st.lists(mutations, min_size=1, max_size=5))
async def test_mutated_valid_events_are_created_or_refused_never_half_done(
    batch: list[list[tuple[tuple[str, ...], object, bool]]],
) -> None:
    async with arena() as (_, control, attacker, observer):
        frames: list[str | bytes] = []
        for n, changes in enumerate(batch):
            event = valid_create(n)
            for path, value, delete in changes:
                mutate(event, path, value, delete)
            frames.append(json.dumps(event))
        replies = await answers(attacker, frames)
        created = [r["item"]["id"] for r in replies if r["type"] == "conversation.item.created"]
        assert all(r["type"] in ("error", "conversation.item.created") for r in replies)
        assert all(isinstance(r["error"]["code"], str) for r in replies if r["type"] == "error")
        # The observer saw exactly the creates the attacker saw, nothing else.
        seen = [
            (await observer.receive_type("conversation.item.created"))["item"]["id"]
            for _ in created
        ]
        assert seen == created
        await assert_unchanged(control, observer)


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "conversation.item.create", "item": ' + "{" * 5000 + "}" * 5000 + "}",
        orjson.dumps({"type": "conversation.item.create", "item": message(text="x" * 600_000)}),
        orjson.dumps({"type": "x" * 500_000}),
        orjson.dumps({"type": "conversation.item.retrieve", "item_id": "y" * 500_000}),
        '{"type": "conversation.item.create", "event_id": "\\ud800"}',
        "\x00" * 1000,
    ],
    ids=[
        "nested-array",
        "nested-object",
        "huge-item",
        "huge-type",
        "huge-id",
        "lone-surrogate",
        "nul-bytes",
    ],
)
async def test_huge_and_deeply_nested_payloads_get_errors(frame: str | bytes) -> None:
    text = frame.decode() if isinstance(frame, bytes) else frame
    async with arena() as (_, control, attacker, observer):
        (reply,) = await answers(attacker, [text])
        assert reply["type"] == "error"
        await assert_unchanged(control, observer)


async def test_a_flood_is_bounded_the_attacker_is_closed_and_others_are_unaffected() -> None:
    async with (
        # No rate limit, and big replies: the socket buffers fill in a few hundred frames.
        controlled_server(subscriber_queue=64, write_stall_timeout=1, rate_limit=0) as (
            url,
            control,
        ),
        connect(url + "?conversation=flood") as attacker,
        connect(url + "?conversation=flood") as bystander,
    ):
        retrieve = {"type": "conversation.item.retrieve", "item_id": "n" * 50_000}
        junk = orjson.dumps(retrieve).decode()
        # The attacker never reads: its replies pile up until it is closed as a slow consumer.
        with pytest.raises(ConnectionClosed) as closed, trio.fail_after(20):
            await send_forever(attacker, junk)
        assert closed.value.reason is not None
        # 4008 when the client library gets to read the close frame; a client that never reads
        # may only see the TCP connection go (1006).
        assert closed.value.reason.code in (4008, 1006)
        assert await metric(control, "chorus_slow_consumer_closes") == 1
        await bystander.send({"type": "conversation.item.create", "item": message("ok")})
        assert (await bystander.receive_type("conversation.item.created"))["item"]["id"] == "ok"
        assert await crashes(control) == 0


async def send_forever(client: Client, frame: str) -> None:
    while True:
        await client.send_raw(frame)


# -- frames a well-behaved client library cannot send ----------------------------------------------


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked, final WebSocket frame (clients must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def raw_close_code(url: str, frame: bytes) -> int | None:
    """Upgrade by hand, send ``frame``; return the code of the server's close frame, or None when
    the server dropped the TCP connection without one."""
    port = int(url.split(":")[2].split("/")[0])
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    upgrade = (
        f"GET /v1/realtime?conversation=raw HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(upgrade)
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                buffer += await stream.receive_some(4096)
            buffer = buffer.split(b"\r\n\r\n", 1)[1]
            await stream.send_all(frame)
            while True:
                while len(buffer) < 2 or len(buffer) < frame_length(buffer):
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        return None
                    buffer += chunk
                size = frame_length(buffer)
                opcode, payload = buffer[0] & 0x0F, buffer[size - payload_length(buffer) : size]
                buffer = buffer[size:]
                if opcode == 0x8:
                    code: int = struct.unpack("!H", payload[:2])[0]
                    return code


def payload_length(buffer: bytes) -> int:
    length = buffer[1] & 0x7F
    if length == 126:
        return int(struct.unpack("!H", buffer[2:4])[0]) if len(buffer) >= 4 else 1 << 30
    if length == 127:
        return int(struct.unpack("!Q", buffer[2:10])[0]) if len(buffer) >= 10 else 1 << 30
    return length


def frame_length(buffer: bytes) -> int:
    """Header plus payload length of the (unmasked, server) frame at the start of ``buffer``."""
    extra = {126: 2, 127: 8}.get(buffer[1] & 0x7F, 0)
    return 2 + extra + payload_length(buffer)


# wsproto turns a frame it cannot parse into a close with the RFC code (1007 for invalid UTF-8,
# 1002 otherwise); trio-websocket 0.12 then drops the TCP connection without sending that close
# frame. Either way the connection ends and nothing else is affected.
RAW_CASES: dict[str, tuple[bytes, int]] = {
    "invalid-utf8-text": (client_frame(0x1, b'{"type": "\xff\xfe"}'), 1007),
    "reserved-opcode": (client_frame(0x3, b"x"), 1002),
    "unmasked-frame": (b"\x81\x02{}", 1002),
}


@pytest.mark.parametrize("case", sorted(RAW_CASES))
async def test_protocol_violations_end_the_connection_and_nothing_else(case: str) -> None:
    frame, rfc_code = RAW_CASES[case]
    async with controlled_server() as (url, control), connect(url + "?conversation=raw") as peer:
        assert await raw_close_code(url, frame) in (rfc_code, None)
        await peer.send({"type": "conversation.item.retrieve", "item_id": "none"})
        assert (await peer.receive())["type"] == "error"
        assert await crashes(control) == 0
        status, _, _ = await handshake(url)  # still accepting
        assert status == 101


async def test_a_bug_handling_one_event_is_a_server_error_and_nothing_else_stops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Events are handled in trio-websocket's reader task: an exception escaping there would end
    # every connection of the server, not just this event.
    real_decode = codec.decode_client_event

    def decode(frame: str | bytes, dialect: Dialect = Dialect.BETA) -> object:
        if isinstance(frame, str) and "boom" in frame:
            raise RuntimeError("a bug")
        return real_decode(frame, dialect)

    monkeypatch.setattr(codec, "decode_client_event", decode)
    async with running_server() as url, connect(url + "?conversation=bug") as client:
        with trio.fail_after(5):
            await client.send({"type": "conversation.item.create", "item": message("boom")})
            error = await client.receive_type("error")
            assert (error["error"]["type"], error["error"]["code"]) == (
                "server_error",
                "server_error",
            )
            await client.send({"type": "conversation.item.create", "item": message("fine")})
            created = await client.receive_type("conversation.item.created")
            assert created["item"]["id"] == "fine"
    assert "could not handle a client event" in caplog.text
