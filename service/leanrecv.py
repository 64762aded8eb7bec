"""A TCP stream whose receive waits for data before asking for it, once the socket ran dry.

Why beneath trio's public API: ``trio.SocketStream.receive_some`` always calls ``recv`` first and
waits only when that fails, so a connection that read everything there was (nearly every read of
a WebSocket connection: frames are small) makes one failing ``recv`` per read, measured as half
of all ``recvfrom`` calls of a busy server. An idle connection also waits in three frames above
the I/O manager's (``receive_some``, the socket method's wrapper and its non-blocking helper),
about 1 KiB together. ``LeanSocketStream.receive_some`` waits for readability first when the
last read drained the socket, and waits in one frame of its own.

It wraps a ``trio.SocketStream`` (a final class) and uses the stdlib socket inside trio's
(``_sock``), which ``fastsend.try_send`` uses too; every other method is the wrapped stream's.
``serve_websocket`` is trio-websocket's server on such streams, leaner per connection (see its
docstring); it uses trio-websocket's internals the way trio-websocket's own server does.
tests/unit/test_leanrecv.py checks the stream against the installed trio (pinned in pyproject);
every test of the server runs on ``serve_websocket``.
"""

import errno
import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

log = logging.getLogger(__name__)

# trio's own receive size when none is asked for.
DEFAULT_RECEIVE_SIZE = 65536
# What trio reports as a closed (rather than broken) stream.
_CLOSED_ERRNOS = {errno.EBADF, errno.ENOTSOCK}


class LeanSocketStream(trio.abc.HalfCloseableStream):
    """A ``trio.SocketStream`` with a receive that waits first after a draining read."""

    __slots__ = ("_drained", "_sock", "_stream", "socket")

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self.socket = stream.socket
        self._sock: socket.socket = stream.socket._sock  # type: ignore[attr-defined]
        # The last read returned less than asked: nothing more was there, so wait before recv.
        self._drained = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        size = DEFAULT_RECEIVE_SIZE if max_bytes is None else max_bytes
        if size < 1:
            raise ValueError("max_bytes must be >= 1")
        sock = self._sock
        waited = self._drained
        if not waited:
            await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if waited:
                if sock.fileno() == -1:
                    raise trio.ClosedResourceError("this socket was already closed")
                # A close meanwhile (``aclose``) wakes this with ClosedResourceError.
                await trio.lowlevel.wait_readable(sock)
            try:
                data = sock.recv(size)
            except BlockingIOError:
                waited = True
                continue
            except OSError as exc:
                raise _stream_error(exc) from exc
            break
        self._drained = len(data) < size
        if not waited:
            # What trio does after a call that did not wait: let other tasks run.
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _stream_error(exc: OSError) -> trio.ClosedResourceError | trio.BrokenResourceError:
    if exc.errno in _CLOSED_ERRNOS:
        return trio.ClosedResourceError("this socket was already closed")
    return trio.BrokenResourceError(f"socket connection broken: {exc}")


# What trio's serve_listeners treats as running out of capacity (it waits, then accepts again).
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_ACCEPT_RETRY_SECONDS = 0.1

# trio-websocket's reader task builds this table for every connection (~0.35 KiB of each).
_EVENT_HANDLERS: dict[type, Callable[[WebSocketConnection, Any], Awaitable[None]]] = {
    AcceptConnection: WebSocketConnection._handle_accept_connection_event,
    BytesMessage: WebSocketConnection._handle_message_event,
    CloseConnection: WebSocketConnection._handle_close_connection_event,
    Ping: WebSocketConnection._handle_ping_event,
    Pong: WebSocketConnection._handle_pong_event,
    RejectConnection: WebSocketConnection._handle_reject_connection_event,
    RejectData: WebSocketConnection._handle_reject_data_event,
    Request: WebSocketConnection._handle_request_event,
    TextMessage: WebSocketConnection._handle_message_event,
}


# Answers a handshake; may return what then serves the connection (awaited at once).
Handler = Callable[[WebSocketRequest], Awaitable[Awaitable[None] | None]]


async def serve_websocket(
    handler: Handler,
    host: str,
    port: int,
    *,
    handler_nursery: trio.Nursery,
    max_message_size: int,
    connect_timeout: float,
    disconnect_timeout: float,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """trio-websocket's ``serve_websocket`` (no TLS) on lean streams; ``started(port)``.

    Each connection runs ``handler(request)`` as trio-websocket's server does, then awaits what
    the handler returned, if anything: the handshake's frames are then gone. Less per
    connection: its task runs the connection itself (no wrapper task frame), its reader task runs
    beside it in ``handler_nursery`` (no nursery of their own, ~1.1 KiB: the reader ends by itself
    once the stream is closed, which this does when the connection ends) and dispatches events
    from one shared table. A shutdown cancels ``handler_nursery``, readers and all.

    Runs until cancelled. With more than one listener (a host name with several addresses), the
    port reported is the first one's.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    serve = functools.partial(
        _serve_connection,
        handler=handler,
        nursery=handler_nursery,
        max_message_size=max_message_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept_connections, listener, handler_nursery, serve)
        task_status.started(listeners[0].socket.getsockname()[1])


async def _accept_connections(
    listener: trio.SocketListener,
    nursery: trio.Nursery,
    serve: Callable[[LeanSocketStream], Awaitable[None]],
) -> None:
    """trio's ``serve_listeners`` for one listener, starting ``serve`` on each lean stream."""
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _ACCEPT_CAPACITY_ERRNOS:
                    raise
                log.error(
                    "accept failed; retrying",
                    extra={
                        "errno": errno.errorcode[exc.errno],
                        "in_seconds": _ACCEPT_RETRY_SECONDS,
                    },
                )
                await trio.sleep(_ACCEPT_RETRY_SECONDS)
            else:
                nursery.start_soon(serve, LeanSocketStream(stream))


async def _serve_connection(
    stream: LeanSocketStream,
    *,
    handler: Handler,
    nursery: trio.Nursery,
    max_message_size: int,
    connect_timeout: float,
    disconnect_timeout: float,
) -> None:
    """trio-websocket's ``WebSocketServer._handle_connection``, less per connection."""
    try:
        connection = WebSocketConnection(
            stream, WSConnection(ConnectionType.SERVER), max_message_size=max_message_size
        )
        nursery.start_soon(_read, connection)
        with trio.move_on_after(connect_timeout) as connect_scope:
            request = await connection._get_request()
        if connect_scope.cancelled_caught:
            return
        del connect_scope  # not kept for the connection's life
        try:
            serving = await handler(request)
            if serving is not None:
                await serving
        finally:
            with trio.move_on_after(disconnect_timeout):
                await connection.aclose()
    finally:
        # Also ends the reader, whose wait for data then fails.
        await trio.aclose_forcefully(stream)


async def _read(connection: WebSocketConnection) -> None:
    """trio-websocket's reader task (``_reader_task``) for a server connection.

    The same steps without its per-connection handler table and without a debug log call per
    event and per read (each a logger lookup, on the hot path).
    """
    async with connection._send_channel:
        while connection._reader_running:
            for event in connection._wsproto.events():
                handle = _EVENT_HANDLERS.get(type(event))
                if handle is None:
                    log.warning("unknown wsproto event", extra={"event_type": type(event).__name__})
                    continue
                try:
                    await handle(connection, event)
                except ConnectionClosed:
                    connection._reader_running = False
                    break
            try:
                data = await connection._stream.receive_some(connection._receive_buffer_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await connection._abort_web_socket()
                break
            if not data:
                # The TCP connection ended before the WebSocket: an abnormal closure.
                if connection._wsproto.state != ConnectionState.CLOSED:
                    await connection._abort_web_socket()
                break
            if connection._wsproto.state != ConnectionState.CLOSED:
                try:
                    connection._wsproto.receive_data(data)  # type: ignore[arg-type]  # bytes here
                except RemoteProtocolError as err:
                    if err.event_hint:
                        await connection._send(err.event_hint)
                    await connection._close_stream()
