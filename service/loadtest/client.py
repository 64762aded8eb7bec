"""The load generator's WebSocket clients behind one small interface: raw (fast) or trio-websocket.

Failing to connect raises ConnectFailed, a closed connection raises Disconnected (the raw
client's ConnectionClosed, which trio-websocket's errors are mapped to); nothing else
library-specific reaches the session code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal, Protocol

import trio
import trio_websocket

from service.loadtest import rawws

ClientKind = Literal["raw", "trio-websocket"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("raw", "trio-websocket")

# A message as received: orjson parses all three without a copy.
Message = bytes | bytearray | str

# Bounded, but deep enough that a busy connection's reader is not woken once per message.
_MESSAGE_QUEUE = 64


class ConnectFailed(Exception):
    """A connection could not be opened; ``status`` is the HTTP status of a rejection."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# The connection is closed, by either side. The raw client's own error, so that its
# connections need no wrapper on the hot path.
Disconnected = rawws.ConnectionClosed


OnMessages = Callable[[Sequence[Message], float], None]
OnClosed = Callable[[Disconnected], None]


class ClientConnection(Protocol):
    """An open connection: messages are pushed to callbacks; one task sends."""

    def start_receiving(
        self, nursery: trio.Nursery, on_messages: OnMessages, on_closed: OnClosed
    ) -> None:
        """Call ``on_messages(messages, arrival_time)`` for what arrives, from a task in
        ``nursery`` or from the worker's Reactor; ``on_closed(error)`` once when it closes.

        Called at most once; the callbacks must not block.
        """

    async def send_texts(self, payloads: Sequence[bytes]) -> None:
        """Send each UTF-8 payload as a text message. Raises Disconnected."""


async def _pump(
    receive: Callable[[], Awaitable[Sequence[Message]]],
    on_messages: OnMessages,
    on_closed: OnClosed,
) -> None:
    """A reader task: receive until the connection closes, pushing to the callbacks."""
    closed = Disconnected(rawws.CLOSE_ABNORMAL, "receiving stopped")
    try:
        while True:
            messages = await receive()
            on_messages(messages, trio.current_time())
    except Disconnected as exc:
        closed = exc
    finally:
        on_closed(closed)


def open_client(
    kind: ClientKind,
    url: str,
    headers: Sequence[tuple[bytes, bytes]],
    *,
    connect_timeout: float,
    close_timeout: float,
    reactor: rawws.Reactor | None = None,
) -> AbstractAsyncContextManager[ClientConnection]:
    """Connect with the ``kind`` client; the connection is closed when the context exits.

    Entering raises ConnectFailed. Closing is best effort: a server that no longer answers is
    given ``close_timeout`` seconds. Raw plain-TCP connections are read by ``reactor`` when one
    is given (and running), otherwise by a task per connection.
    """
    if kind == "raw":
        return _open_raw(url, headers, connect_timeout, close_timeout, reactor)
    return _open_trio_websocket(url, headers, connect_timeout, close_timeout)


class _RawConnection:
    def __init__(self, ws: rawws.WebSocket, reactor: rawws.Reactor | None) -> None:
        self._ws = ws
        self._reactor = reactor

    def start_receiving(
        self, nursery: trio.Nursery, on_messages: OnMessages, on_closed: OnClosed
    ) -> None:
        if self._reactor is None or not self._reactor.add(self._ws, on_messages, on_closed):
            nursery.start_soon(_pump, self._ws.receive_messages, on_messages, on_closed)

    async def send_texts(self, payloads: Sequence[bytes]) -> None:
        await self._ws.send_texts(payloads)


@asynccontextmanager
async def _open_raw(
    url: str,
    headers: Sequence[tuple[bytes, bytes]],
    connect_timeout: float,
    close_timeout: float,
    reactor: rawws.Reactor | None,
) -> AsyncIterator[ClientConnection]:
    entered = False
    try:
        async with rawws.open_websocket(
            url,
            extra_headers=headers,
            connect_timeout=connect_timeout,
            close_timeout=close_timeout,
        ) as ws:
            entered = True
            yield _RawConnection(ws, reactor)
    except rawws.HandshakeFailed as exc:
        if entered:
            raise
        raise ConnectFailed(str(exc), exc.status) from exc
    except OSError as exc:
        if entered:
            raise
        raise ConnectFailed(str(exc)) from exc


def _disconnected(exc: trio_websocket.ConnectionClosed) -> Disconnected:
    reason = exc.reason
    code = reason.code if reason is not None else rawws.CLOSE_ABNORMAL
    return Disconnected(code, (reason.reason or "") if reason is not None else "")


class _TrioWebSocketConnection:
    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws

    def start_receiving(
        self, nursery: trio.Nursery, on_messages: OnMessages, on_closed: OnClosed
    ) -> None:
        nursery.start_soon(_pump, self.receive_messages, on_messages, on_closed)

    async def receive_messages(self) -> Sequence[Message]:
        try:
            return [await self._ws.get_message()]
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from exc

    async def send_texts(self, payloads: Sequence[bytes]) -> None:
        try:
            for payload in payloads:
                await self._ws.send_message(payload.decode())
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from exc


@asynccontextmanager
async def _open_trio_websocket(
    url: str,
    headers: Sequence[tuple[bytes, bytes]],
    connect_timeout: float,
    close_timeout: float,
) -> AsyncIterator[ClientConnection]:
    # trio-websocket bounds the handshake itself; a cancel scope around entering its context
    # manager would be exited while the connection's nursery is still open.
    entered = False
    try:
        async with trio_websocket.open_websocket_url(
            url,
            extra_headers=list(headers),
            message_queue_size=_MESSAGE_QUEUE,
            connect_timeout=connect_timeout,
            disconnect_timeout=close_timeout,
        ) as ws:
            entered = True
            yield _TrioWebSocketConnection(ws)
    except trio_websocket.DisconnectionTimeout:
        # The run is over when connections close; closing is best effort.
        if not entered:
            raise
    except trio_websocket.ConnectionRejected as exc:
        if entered:
            raise
        raise ConnectFailed(str(exc), exc.status_code) from exc
    except (OSError, trio_websocket.HandshakeError, trio_websocket.ConnectionClosed) as exc:
        if entered:
            raise
        raise ConnectFailed(str(exc)) from exc
