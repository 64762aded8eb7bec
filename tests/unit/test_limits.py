"""The token bucket and the keepalive loop, on virtual time."""

import trio
import trio.testing

from service import limits
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

    async def ping(self) -> None:
        self.pings += 1
        if self.delay is None:
            await trio.sleep_forever()
        await trio.sleep(self.delay)


async def run_keepalive(
    socket: FakeSocket, activity: Activity, *, idle: float, pings: float = 1.0
) -> list[int]:
    closes: list[int] = []

    async def close(code: int, reason: str) -> None:
        closes.append(code)

    with trio.fail_after(100):
        await limits.keepalive(
            socket,  # type: ignore[arg-type]
            close,
            activity,
            ping_interval=pings,
            ping_timeout=2,
            idle_timeout=idle,
        )
    return closes


async def test_a_peer_that_stops_answering_pings_is_closed_with_1011(
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert await run_keepalive(FakeSocket(None), Activity(), idle=0) == [1011]


async def test_an_idle_peer_is_closed_with_4001_although_it_answers_pings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    socket = FakeSocket(0.01)
    assert await run_keepalive(socket, Activity(), idle=10) == [4001]
    assert socket.pings >= 9


async def test_activity_postpones_the_idle_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    activity = Activity()
    async with trio.open_nursery() as nursery:

        async def busy() -> None:
            for _ in range(5):
                await trio.sleep(4)
                activity.touch()

        nursery.start_soon(busy)
        started = trio.current_time()
        assert await run_keepalive(FakeSocket(0), activity, idle=5, pings=0) == [4001]
        assert trio.current_time() - started >= 25
