"""Keepalive for every connection of a server: paced pings, and closing silent peers.

Each connection is pinged every ``ping_interval`` and closed with 1011 when a pong does not come
within ``ping_timeout``, and closed with 4001 when no message went either way for
``idle_timeout`` (a zero disables that check). A task per connection for this cost about 3.7 KiB
of each idle connection's ~38 KiB (measured with `python -m bench.run --cases idle`), so one task
paces the pings and one sweep over all connections every ``tick`` (about a microsecond per
connection) finds idle ones; a ping or a close gets a short-lived task of its own only while it
is in progress.

Pings are paced, not swept: connections that opened together (a load test, clients reconnecting
after a restart) would otherwise all come due in the same sweep, and a thousand pings started in
one scheduler batch stalled the event loop for ~100 ms every ``ping_interval`` (p99.9
create->delivery at 1,000 creates/s over 1,000 connections: 86 ms in a 25-second run). A crowd
that comes due together is pinged at twice the steady rate instead, which also spreads it out
for good: each connection's next ping is due an interval after its last one started.
"""

import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import attrs
import trio
from trio_websocket import ConnectionClosed

from service.limits import CLOSE_IDLE_TIMEOUT, CLOSE_KEEPALIVE_TIMEOUT, Activity

log = logging.getLogger(__name__)

# Idle sweeps are at most this far apart (seconds), and give other tasks a turn every SWEEP_SLICE
# connections so a large server does not stall its event loop for a whole sweep.
MAX_TICK = 1.0
MIN_TICK = 0.005
SWEEP_SLICE = 500


class Pingable(Protocol):
    async def ping(self) -> None: ...


@attrs.define(eq=False)
class Watched:
    """One connection under watch; ``busy`` while a ping or a close for it is in progress."""

    websocket: Pingable
    activity: Activity
    close: Callable[[int, str], Awaitable[None]]
    next_ping: float
    busy: bool = False
    # The ping in progress, cancelled if the connection goes first (no use waiting for a pong).
    ping_scope: trio.CancelScope | None = None


class Keepalive:
    """Watches connections (``watching``) while ``run`` runs; run it with ``nursery.start``."""

    def __init__(
        self,
        *,
        ping_interval: float,
        ping_timeout: float,
        idle_timeout: float,
        close_timeout: float = 10.0,
    ) -> None:
        # A close whose handshake the peer does not finish within this is cut short (its TCP
        # connection closed): an unresponsive peer would otherwise hold the connection forever.
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval if ping_interval > 0 else math.inf
        self.ping_timeout = ping_timeout if ping_timeout > 0 else math.inf
        self.idle_timeout = idle_timeout if idle_timeout > 0 else math.inf
        # A quarter of the idle timeout: an idle close comes at most that late.
        self.tick = max(MIN_TICK, min(MAX_TICK, self.idle_timeout / 4))
        self.enabled = math.isfinite(self.ping_interval) or math.isfinite(self.idle_timeout)
        # In the order their pings come due: a connection's next ping is due an interval after
        # its last one started (or after it was first watched), so the first is the next due.
        self._watched: OrderedDict[Watched, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._watched)

    @contextmanager
    def watching(
        self,
        websocket: Pingable,
        activity: Activity,
        close: Callable[[int, str], Awaitable[None]],
    ) -> Iterator[None]:
        """Watch ``websocket`` for the block; ``close(code, reason)`` closes it."""
        watched = self.watch(websocket, activity, close)
        try:
            yield
        finally:
            self.unwatch(watched)

    def watch(
        self,
        websocket: Pingable,
        activity: Activity,
        close: Callable[[int, str], Awaitable[None]],
    ) -> Watched:
        """Watch ``websocket`` until ``unwatch``; ``close(code, reason)`` closes it.

        Plain calls for the server's connections: a context manager's generator per connection
        cost about 0.4 KiB of each.
        """
        watched = Watched(websocket, activity, close, trio.current_time() + self.ping_interval)
        self._watched[watched] = None
        return watched

    def unwatch(self, watched: Watched) -> None:
        """Stop watching (and cancel a ping in progress); once per ``watch``."""
        del self._watched[watched]
        if watched.ping_scope is not None:
            watched.ping_scope.cancel()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Ping the watched connections and close idle ones until cancelled."""
        async with trio.open_nursery() as nursery:
            task_status.started()
            if math.isfinite(self.ping_interval):
                nursery.start_soon(self._ping_when_due, nursery)
            if math.isfinite(self.idle_timeout):
                nursery.start_soon(self._sweep_for_idle, nursery)

    async def _ping_when_due(self, nursery: trio.Nursery) -> None:
        while True:
            if not self._watched:
                # Whatever is watched meanwhile comes due an interval from now at the earliest.
                await trio.sleep(self.ping_interval)
                continue
            watched = next(iter(self._watched))
            now = trio.current_time()
            if now < watched.next_ping:
                await trio.sleep_until(watched.next_ping)
                continue
            watched.next_ping = now + self.ping_interval
            self._watched.move_to_end(watched)
            if not watched.busy:  # not still waiting for the last pong, nor being closed
                watched.busy = True
                nursery.start_soon(self._ping, watched)
            # Twice the steady rate: a crowd that came due together is spread over half an
            # interval instead of starting in one scheduler batch.
            await trio.sleep(self.ping_interval / (2 * len(self._watched)))

    async def _sweep_for_idle(self, nursery: trio.Nursery) -> None:
        while True:
            await trio.sleep(self.tick)
            now = trio.current_time()
            for count, watched in enumerate(list(self._watched), start=1):
                if count % SWEEP_SLICE == 0:
                    await trio.lowlevel.checkpoint()
                    now = trio.current_time()
                if watched.busy or watched not in self._watched:
                    continue
                if now >= watched.activity.idle_since(now) + self.idle_timeout:
                    watched.busy = True
                    nursery.start_soon(self._close_idle, watched)

    async def _close_idle(self, watched: Watched) -> None:
        log.info("closing idle connection", extra={"idle_seconds": self.idle_timeout})
        await self._close(watched, CLOSE_IDLE_TIMEOUT, "idle timeout")

    async def _close(self, watched: Watched, code: int, reason: str) -> None:
        # Cancelling a WebSocket close closes its TCP connection (trio-websocket's aclose).
        with contextlib.suppress(ConnectionClosed), trio.move_on_after(self.close_timeout):
            await watched.close(code, reason)

    async def _ping(self, watched: Watched) -> None:
        try:
            with trio.CancelScope() as watched.ping_scope:
                with trio.move_on_after(self.ping_timeout) as waiting:
                    await watched.websocket.ping()
            watched.ping_scope = None
            if waiting.cancelled_caught:
                log.info(
                    "closing unresponsive connection", extra={"ping_timeout": self.ping_timeout}
                )
                await self._close(watched, CLOSE_KEEPALIVE_TIMEOUT, "keepalive ping timeout")
                return  # stays busy: it is closing
        except ConnectionClosed:
            return
        watched.busy = False
