"""The load generator over real sockets, against the trio-websocket baseline server."""

import functools

import orjson
import pytest
import trio
import trio_websocket

from bench.baselines.trio_ws_broadcast import serve
from service.loadtest.client import CLIENT_KINDS, ClientKind
from service.loadtest.config import LoadConfig
from service.loadtest.runner import LocalSink
from service.loadtest.worker import run_worker


@pytest.fixture(params=CLIENT_KINDS)
def client(request: pytest.FixtureRequest) -> ClientKind:
    kind: ClientKind = request.param
    return kind


def config(port: int, client: ClientKind, **overrides: object) -> LoadConfig:
    fields: dict[str, object] = {
        "url": f"ws://127.0.0.1:{port}/v1/realtime",
        "conversations": 4,
        "observers": 2,
        "duration": 1.0,
        "window": 4,
        "drain_timeout": 2.0,
        "connect_timeout": 5.0,
        "client": client,
    }
    fields.update(overrides)
    return LoadConfig(**fields)  # type: ignore[arg-type]


async def test_closed_loop_against_the_baseline_is_clean(
    nursery: trio.Nursery, client: ClientKind
) -> None:
    port = await nursery.start(serve, "127.0.0.1", 0)
    cfg = config(port, client)
    sink = LocalSink()
    with trio.fail_after(15):
        stats = await run_worker(cfg, range(cfg.conversations), sink)
    assert stats.connections_opened == 12
    assert stats.connection_failures == 0
    assert stats.acked > 50
    assert stats.acked == stats.sent
    assert stats.delivered == stats.acked * cfg.observers
    assert stats.integrity.total == 0
    assert stats.latency("delivery").count == stats.delivered
    assert sink.latest.elapsed is not None


async def test_open_loop_sends_on_schedule(nursery: trio.Nursery, client: ClientKind) -> None:
    port = await nursery.start(serve, "127.0.0.1", 0)
    cfg = config(port, client, window=None, rate=200.0)
    with trio.fail_after(15):
        stats = await run_worker(cfg, range(cfg.conversations), LocalSink())
    assert 190 <= stats.sent <= 201
    assert stats.acked == stats.sent
    assert stats.integrity.total == 0


async def duplicating_server(
    request: trio_websocket.WebSocketRequest,
    members: dict[str, list[trio_websocket.WebSocketConnection]],
) -> None:
    """Greets, then sends observers every item twice: the generator must notice."""
    ws = await request.accept()
    conversation = request.path.split("conversation=")[1].split("&")[0]
    members.setdefault(conversation, []).append(ws)
    await ws.send_message(orjson.dumps({"type": "session.created"}).decode())
    created = {"type": "conversation.created", "conversation": {"id": conversation}}
    await ws.send_message(orjson.dumps(created).decode())
    try:
        while True:
            event = orjson.loads(await ws.get_message())
            text = orjson.dumps({"type": "conversation.item.created", "item": event["item"]})
            for member in members[conversation]:
                for _ in range(1 if member is ws else 2):
                    await member.send_message(text.decode())
    except trio_websocket.ConnectionClosed:
        pass


async def test_duplicates_are_counted(nursery: trio.Nursery, client: ClientKind) -> None:
    handler = functools.partial(duplicating_server, members={})
    server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    cfg = config(server.port, client, conversations=1, observers=1, duration=0.3, window=1)
    with trio.fail_after(15):
        stats = await run_worker(cfg, range(1), LocalSink())
    assert stats.acked > 0
    assert stats.integrity.duplicates == stats.acked
    assert stats.integrity.gaps == 0
    assert stats.integrity.final_list_mismatches == 0


async def test_unreachable_server_counts_connection_failures(client: ClientKind) -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        cfg = config(port, client, conversations=2, observers=1, duration=0.1)
        with trio.fail_after(15):
            stats = await run_worker(cfg, range(2), LocalSink())
    assert stats.connection_failures == 4
    assert stats.connections_opened == 0


async def test_rejected_handshakes_count_as_failures_with_their_status(
    nursery: trio.Nursery,
) -> None:
    # Raw client only: trio-websocket 0.12 leaks the socket of a rejected handshake, which
    # this suite's warnings-as-errors turns into a failure.
    port = await nursery.start(serve, "127.0.0.1", 0)
    cfg = config(port, "raw", url=f"ws://127.0.0.1:{port}/elsewhere", conversations=1)
    with trio.fail_after(15):
        stats = await run_worker(cfg, range(1), LocalSink())
    assert stats.connection_failures == 3
    assert stats.errors_by_code == {"loadtest_handshake_http_404": 3}
