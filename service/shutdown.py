"""Graceful shutdown: the stop request, the grace deadline, and the connections to close with 1001.

A ``ServerControl`` is shared by the signal watcher, the composition root and every connection.
The first SIGTERM/SIGINT asks the server to stop: it stops accepting, closes every WebSocket with
1001 (Going Away), lets conversation actors finish what is queued, and lets the store commit
what is queued. Whatever is still running when the grace period ends is cancelled; a second
signal ends the grace period at once.
"""

import logging
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import trio
from trio_websocket import WebSocketConnection

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
GOING_AWAY_REASON = "server shutting down; reconnect"
DEFAULT_GRACE = 10.0


class ServerControl:
    """Shared state of one running server: stop requests and the live WebSockets.

    ``ws_port`` and ``http_port`` are filled in once the listeners are bound (``http_port`` stays
    None when the HTTP listener is disabled).
    """

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self.stop_requested = trio.Event()
        self.deadline = math.inf
        self._websockets: set[WebSocketConnection] = set()
        self._grace_scopes: list[trio.CancelScope] = []
        self.ws_port: int | None = None
        self.http_port: int | None = None

    @property
    def draining(self) -> bool:
        return self.stop_requested.is_set()

    @property
    def connections(self) -> int:
        return len(self._websockets)

    def request_stop(self) -> None:
        """Start a graceful shutdown; a second call ends the grace period at once."""
        if self.stop_requested.is_set():
            log.warning("second stop request: cancelling what is left")
            self.deadline = trio.current_time()
        else:
            self.deadline = trio.current_time() + self.grace
            self.stop_requested.set()
        for scope in self._grace_scopes:
            scope.deadline = self.deadline

    def limit(self, scope: trio.CancelScope) -> None:
        """Make ``scope`` end at the grace deadline, also when a second stop request moves it."""
        scope.deadline = self.deadline
        self._grace_scopes.append(scope)

    @contextmanager
    def within_grace(self) -> Iterator[trio.CancelScope]:
        """A cancel scope that ends at the grace deadline."""
        with trio.CancelScope() as scope:
            self.limit(scope)
            try:
                yield scope
            finally:
                self._grace_scopes.remove(scope)

    def track(self, websocket: WebSocketConnection) -> None:
        """Register ``websocket`` until ``untrack``, so a shutdown can close it."""
        self._websockets.add(websocket)

    def untrack(self, websocket: WebSocketConnection) -> None:
        self._websockets.discard(websocket)

    async def close_connections(self) -> None:
        """Send every live WebSocket a 1001 close, concurrently; returns when all are closed."""
        async with trio.open_nursery() as nursery:
            for websocket in list(self._websockets):
                nursery.start_soon(websocket.aclose, CLOSE_GOING_AWAY, GOING_AWAY_REASON)


async def stop_on_signals(
    control: ServerControl, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Turn SIGTERM and SIGINT into ``control.request_stop()``; main thread only."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            control.request_stop()
