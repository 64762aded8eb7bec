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
``LeanListener`` hands out such streams, so trio-websocket's server takes them through its
public ``WebSocketServer(handler, listeners)``. tests/unit/test_leanrecv.py checks the
assumptions against the installed trio (pinned in pyproject).
"""

import errno
import socket
from collections.abc import Awaitable, Callable

import trio
from trio_websocket import WebSocketConnection, WebSocketRequest, WebSocketServer
from wsproto import ConnectionType, WSConnection

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


class LeanListener(trio.abc.Listener[LeanSocketStream]):
    """Accepts from a ``trio.SocketListener`` and hands out ``LeanSocketStream``s."""

    def __init__(self, listener: trio.SocketListener) -> None:
        self.listener = listener
        self.socket = listener.socket

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    async def accept(self) -> LeanSocketStream:
        return LeanSocketStream(await self.listener.accept())

    async def aclose(self) -> None:
        await self.listener.aclose()


class _LeanServer(WebSocketServer):
    """trio-websocket's server without a nursery per connection (~1.1 KiB of each idle one).

    Its ``_handle_connection``, except that the connection's reader task runs in the handler
    nursery beside the connection's own task instead of in a nursery of their own. That nursery
    only cancelled the reader once the connection ended, and the reader ends by itself then: the
    stream is closed (on a handshake timeout, or by ``aclose`` when the handler returns), which
    ends its wait for data. A shutdown cancels the handler nursery, readers and all.
    """

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        connection = WebSocketConnection(
            stream,
            WSConnection(ConnectionType.SERVER),
            message_queue_size=self._message_queue_size,
            max_message_size=self._max_message_size,
            receive_buffer_size=self._receive_buffer_size,
        )
        assert self._handler_nursery is not None, "serve_websocket always passes one"
        self._handler_nursery.start_soon(connection._reader_task)
        with trio.move_on_after(self._connect_timeout) as connect_scope:
            request = await connection._get_request()
        if connect_scope.cancelled_caught:
            await stream.aclose()
            return
        del connect_scope  # not kept for the connection's life
        try:
            await self._handler(request)
        finally:
            with trio.move_on_after(self._disconnect_timeout):
                await connection.aclose()
            # A close that timed out leaves the stream to us (``aclose`` closes it when it
            # finishes or is cancelled; closing twice is harmless).
            await trio.aclose_forcefully(stream)


async def serve_websocket(
    handler: Callable[[WebSocketRequest], Awaitable[None]],
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

    Runs until cancelled. With more than one listener (a host name with several addresses),
    the port reported is the first one's.
    """
    listeners = [
        LeanListener(listener) for listener in await trio.open_tcp_listeners(port, host=host)
    ]
    server = _LeanServer(
        handler,
        # Annotated as socket (or TLS) listeners only; any trio Listener serves (it uses
        # ``trio.serve_listeners``, and ``listeners`` reports others by their repr).
        listeners,  # type: ignore[arg-type]
        handler_nursery=handler_nursery,
        max_message_size=max_message_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        task_status.started(listeners[0].port)
