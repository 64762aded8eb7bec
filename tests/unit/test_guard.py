"""Guard.accepted: what a connection holds (slot, gauge, keepalive, shutdown tracking) is given
back on every exit path."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketRequest, wrap_client_stream, wrap_server_stream

from actors.conversation import core
from actors.conversation.messages import Published
from actors.conversation.model import Item, ItemType
from actors.conversation.outbox import Outbox
from actors.registry import Registry
from actors.store.memory import MemoryEventStore
from service.config import Settings
from service.guard import BROADCAST_LAG_SAMPLE, Gatekeeper, Guard
from service.keepalive import Keepalive
from service.metrics import Metrics
from service.shutdown import CLOSE_GOING_AWAY, ServerControl


class Server:
    def __init__(self, nursery: trio.Nursery) -> None:
        self.settings = Settings(store_url="memory://")
        self.control = ServerControl()
        self.metrics = Metrics()
        self.keepalive = Keepalive(ping_interval=20, ping_timeout=20, idle_timeout=0)
        registry = Registry(MemoryEventStore(), nursery)
        self.gatekeeper = Gatekeeper(
            self.settings, self.control, self.metrics, registry, self.keepalive
        )

    def held(self) -> tuple[int, int, int, float]:
        """Slots, keepalive entries, tracked websockets and the connections gauge."""
        gauge = self.metrics.registry.get_sample_value(
            "chorus_connections", {"dialect": "beta", "role": "writer"}
        )
        return (self.gatekeeper.admitted, len(self.keepalive), self.control.connections, gauge or 0)


@asynccontextmanager
async def admitted() -> AsyncIterator[tuple[Server, Guard, WebSocketRequest]]:
    """A server, and the guard and handshake request of a client connecting over memory."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    requests: list[WebSocketRequest] = []
    got = trio.Event()
    async with trio.open_nursery() as nursery:
        server = Server(nursery)

        async def serve() -> None:
            requests.append(await wrap_server_stream(nursery, server_stream))
            got.set()

        async def client() -> None:
            await wrap_client_stream(nursery, client_stream, "localhost", "/v1/realtime")  # type: ignore[arg-type]

        nursery.start_soon(serve)
        nursery.start_soon(client)
        with trio.fail_after(5):
            await got.wait()
        guard = server.gatekeeper.admit(requests[0].headers, [], "c")
        yield server, guard, requests[0]
        nursery.cancel_scope.cancel()


async def test_an_accepted_block_holds_everything_and_gives_it_back() -> None:
    async with admitted() as (server, guard, request):
        assert server.held() == (1, 0, 0, 0)
        async with guard.accepted(request) as websocket:
            assert server.held() == (1, 1, 1, 1)
            assert websocket.closed is None
        assert server.held() == (0, 0, 0, 0)


async def test_a_block_that_raises_gives_everything_back() -> None:
    async with admitted() as (server, guard, request):
        with pytest.raises(ValueError, match="boom"):
            async with guard.accepted(request):
                raise ValueError("boom")
        assert server.held() == (0, 0, 0, 0)


async def test_a_failed_upgrade_gives_the_slot_back() -> None:
    async with admitted() as (server, guard, request):
        guard.subprotocol = "never-offered"  # wsproto refuses to accept with it
        entered = False
        with pytest.raises(Exception):  # noqa: B017, PT011 (whatever wsproto raises)
            async with guard.accepted(request):
                entered = True
        assert not entered
        assert server.held() == (0, 0, 0, 0)


async def test_a_connection_accepted_while_draining_is_closed_with_1001() -> None:
    async with admitted() as (server, guard, request):
        server.control.request_stop()
        async with guard.accepted(request) as websocket:
            assert websocket.closed is not None
            assert websocket.closed.code == CLOSE_GOING_AWAY
        assert server.held() == (0, 0, 0, 0)
        closes = server.metrics.registry.get_sample_value(
            "chorus_connection_closes_total", {"code": "1001"}
        )
        assert closes == 1


async def test_the_keepalive_closes_through_the_guard() -> None:
    async with admitted() as (server, guard, request), guard.accepted(request) as websocket:
        (watched,) = server.keepalive._watched
        await watched.close(4001, "idle timeout")
        assert guard.close_code == 4001
        assert websocket.closed is not None


def _lag_samples(guard: Guard) -> float:
    count = guard.metrics.registry.get_sample_value("chorus_broadcast_lag_events_count")
    return count or 0


async def test_the_broadcast_lag_is_sampled_alike_for_a_shared_batch_and_item_by_item() -> None:
    changes = [
        Published(core.ItemCreated(Item(id=f"i{n}", type=ItemType.MESSAGE), None), n)
        for n in range(1, 41)
    ]
    outbox = Outbox(64)
    one_by_one, batched = Guard.unguarded(Settings()), Guard.unguarded(Settings())
    for change in changes:
        one_by_one.sent_all([change], outbox)
    batched.sent_all(tuple(changes[:10]), outbox)
    batched.sent_all(tuple(changes[10:]), outbox)
    assert _lag_samples(one_by_one) == _lag_samples(batched) == 40 // BROADCAST_LAG_SAMPLE
