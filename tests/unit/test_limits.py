"""The token bucket and the server's keepalive task, on virtual time."""

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from itertools import pairwise

import trio
import trio.testing

from service.keepalive import Keepalive
from service.limits import Activity, TokenBucket


def test_token_bucket_allows_bursts_then_refills_at_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] = 100
    assert sum(bucket.take() for _ in range(10)) == 3


class FakeSocket:
    """Answers pings after ``delay`` seconds (never, when None)."""

    def __init__(self, delay: float | None) -> None:
        self.delay = delay
        self.pings = 0
        self.abandoned_pings = 0
        self.ping_times: list[float] = []

    async def ping(self) -> None:
        self.pings += 1
        self.ping_times.append(trio.current_time())
        try:
            if self.delay is None:
                await trio.sleep_forever()
            await trio.sleep(self.delay)
        except trio.Cancelled:
            self.abandoned_pings += 1
            raise


@asynccontextmanager
async def monitor(*, idle: float, pings: float = 1.0) -> AsyncIterator[Keepalive]:
    keepalive = Keepalive(ping_interval=pings, ping_timeout=2, idle_timeout=idle)
    async with trio.open_nursery() as nursery:
        await nursery.start(keepalive.run)
        yield keepalive
        nursery.cancel_scope.cancel()


async def closes_of(keepalive: Keepalive, socket: FakeSocket, activity: Activity) -> list[int]:
    """Watch ``socket`` until the keepalive closes it; the close codes it used."""
    closes: list[int] = []
    closed = trio.Event()

    async def close(code: int, reason: str) -> None:
        closes.append(code)
        closed.set()

    with trio.fail_after(100), keepalive.watching(socket, activity, close):
        await closed.wait()
    return closes


async def test_a_peer_that_stops_answering_pings_is_closed_with_1011(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with monitor(idle=0) as keepalive:
        started = trio.current_time()
        assert await closes_of(keepalive, FakeSocket(None), Activity()) == [1011]
        # The first ping after 1 s (plus at most a tick), then 2 s for the pong.
        assert 3 <= trio.current_time() - started <= 3.25 + 1e-9


async def test_an_idle_peer_is_closed_with_4001_although_it_answers_pings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    socket = FakeSocket(0.01)
    async with monitor(idle=10) as keepalive:
        assert await closes_of(keepalive, socket, Activity()) == [4001]
    assert socket.pings >= 7


async def test_activity_postpones_the_idle_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    activity = Activity()
    async with trio.open_nursery() as nursery, monitor(idle=5, pings=0) as keepalive:

        async def busy() -> None:
            for _ in range(5):
                await trio.sleep(4)
                activity.touch()

        nursery.start_soon(busy)
        started = trio.current_time()
        assert await closes_of(keepalive, FakeSocket(0), activity) == [4001]
        assert trio.current_time() - started >= 25


async def test_a_ping_in_flight_is_abandoned_when_its_connection_goes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    socket = FakeSocket(None)

    async def close(code: int, reason: str) -> None:
        raise AssertionError("a connection that went away is not closed again")

    async with monitor(idle=0) as keepalive:
        with keepalive.watching(socket, Activity(), close):
            await trio.sleep(1.5)  # a ping is waiting for its pong
        assert socket.pings == 1
        await trio.testing.wait_all_tasks_blocked()
        assert socket.abandoned_pings == 1
        await trio.sleep(10)
        assert len(keepalive) == 0


async def test_every_connection_of_a_large_server_is_pinged(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sockets = [FakeSocket(0) for _ in range(1_200)]  # more than one sweep slice

    async def close(code: int, reason: str) -> None:
        raise AssertionError(f"closed with {code}")

    async with monitor(idle=0) as keepalive:
        with ExitStack() as watching:
            for socket in sockets:
                watching.enter_context(keepalive.watching(socket, Activity(), close))
            await trio.sleep(3)
    assert all(socket.pings >= 2 for socket in sockets)


async def test_connections_that_opened_together_are_pinged_spread_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Started in one scheduler batch, a thousand pings stalled a real server for ~100 ms.
    sockets = [FakeSocket(0) for _ in range(1_000)]

    async def close(code: int, reason: str) -> None:
        raise AssertionError(f"closed with {code}")

    async with monitor(idle=0, pings=10) as keepalive:
        started = trio.current_time()
        with ExitStack() as watching:
            for socket in sockets:
                watching.enter_context(keepalive.watching(socket, Activity(), close))
            await trio.sleep(25)
    rounds = [sorted(socket.ping_times[n] - started for socket in sockets) for n in (0, 1)]
    gap = 10 / (2 * len(sockets))  # twice the steady rate
    for due, pings in zip((10, 20), rounds, strict=True):
        assert due <= pings[0]
        assert pings[-1] <= due + 5 + gap
        assert min(b - a for a, b in pairwise(pings)) >= gap - 1e-9
    # Each connection's pings stay an interval apart.
    assert all(abs(s.ping_times[1] - s.ping_times[0] - 10) < 1e-6 for s in sockets)


def test_a_keepalive_with_nothing_to_do_has_no_ticks() -> None:
    assert not Keepalive(ping_interval=0, ping_timeout=5, idle_timeout=0).enabled
    assert Keepalive(ping_interval=20, ping_timeout=20, idle_timeout=900).tick == 1.0
    assert Keepalive(ping_interval=0, ping_timeout=0, idle_timeout=0.2).tick == 0.05
