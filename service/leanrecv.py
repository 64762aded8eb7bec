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
from trio_websocket import WebSocketRequest, WebSocketServer

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
    server = WebSocketServer(
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
