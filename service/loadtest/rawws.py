"""A minimal RFC 6455 WebSocket client over a Trio stream, built for the generator's hot path.

trio-websocket spends, per message, a reader-task wake-up, a channel hop and wsproto's general
frame machinery; a load generator receiving tens of thousands of messages a second cannot
afford that. Here a read takes up to ``RECEIVE_BYTES`` and yields every message it completed,
parsed by a loop that does a handful of Python operations per frame; a ``Reactor`` reads all
plain-TCP connections from one task (one epoll set, no scheduler round trip per read); and
``send_texts`` masks and writes a batch of frames with one ``send_all``.

Scope, deliberately small: client side only, no extensions (no compression), text messages
are not UTF-8 checked here (the caller parses them as JSON, which checks), and a server frame
that breaks the protocol (masked, reserved bits, bad opcode or control frame) raises
``ProtocolError``. Pings are answered, a server close is echoed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import trio

from service.wsframes import mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECEIVE_BYTES = 256 * 1024
MAX_HANDSHAKE_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005
CLOSE_ABNORMAL = 1006

# The first byte of a final, unfragmented text or binary frame without reserved bits.
_FIN_DATA = frozenset((0x80 | OP_TEXT, 0x80 | OP_BINARY))


class WebSocketError(Exception):
    """Base of the errors this client raises."""


class HandshakeFailed(WebSocketError):
    """The opening handshake did not succeed; ``status`` is the HTTP status if one arrived."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionClosed(WebSocketError):
    """The connection is closed; ``code`` is the close code (1006 if no close frame came)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class ProtocolError(ConnectionClosed):
    """The server broke the protocol; the client closes the connection with code 1002."""

    def __init__(self, reason: str) -> None:
        super().__init__(CLOSE_PROTOCOL_ERROR, reason)


def client_frame(payload: bytes, opcode: int = OP_TEXT, key: bytes | None = None) -> bytes:
    """One masked, final client frame; ``key`` is the 4-byte mask (random when None)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 0x10000:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    if key is None:
        key = os.urandom(4)
    return header + key + mask(payload, key)


def text_frames(payloads: Sequence[bytes]) -> bytes:
    """Masked text frames for ``payloads`` (UTF-8 bytes), concatenated for one write.

    Mask keys come from one ``os.urandom`` call per batch: RFC 6455 asks for unpredictable keys
    (they protect intermediaries from cache poisoning) but not for a system call per frame.
    """
    keys = os.urandom(4 * len(payloads))
    return b"".join(
        client_frame(payload, OP_TEXT, keys[4 * i : 4 * i + 4])
        for i, payload in enumerate(payloads)
    )


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


class FrameParser:
    """Sans-IO: splits server frames out of received bytes and reassembles messages.

    ``feed`` returns the data messages (text or binary payloads) completed so far, in order.
    Ping payloads collect in ``pings`` for the caller to answer; a close frame sets ``close``
    to ``(code, reason)``, after which nothing more is parsed.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._fragments: bytearray | None = None
        self.pings: list[bytes] = []
        self.close: tuple[int, str] | None = None

    def feed(self, data: bytes | bytearray) -> list[bytearray]:
        """Add ``data``; returns the completed messages. Raises ProtocolError."""
        buf = self._buffer
        buf += data
        if self.close is not None:
            return []
        messages: list[bytearray] = []
        end = len(buf)
        pos = 0
        fin_data = _FIN_DATA
        # The hot loop: a final, unfragmented text/binary frame costs two index reads, a
        # comparison or two and one slice.
        while end - pos >= 2:
            first = buf[pos]
            n = buf[pos + 1]
            if n < 126:
                start = pos + 2
            elif n == 126:
                if end - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            elif n == 127:
                if end - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                if n > MAX_MESSAGE_BYTES:
                    raise ProtocolError(f"frame of {n} bytes is over the limit")
                start = pos + 10
            else:
                raise ProtocolError("the server sent a masked frame")
            stop = start + n
            if stop > end:
                break
            if first in fin_data and self._fragments is None:
                messages.append(buf[start:stop])
            elif not self._frame(first, buf[start:stop], messages):
                pos = stop
                break
            pos = stop
        if pos:
            del buf[:pos]
        return messages

    def _frame(self, first: int, payload: bytearray, messages: list[bytearray]) -> bool:
        """Handle any frame but the common one; False once a close frame has arrived."""
        if first & 0x70:
            raise ProtocolError("reserved bits set without an extension")
        fin = bool(first & 0x80)
        opcode = first & 0x0F
        if opcode >= OP_CLOSE:
            return self._control(opcode, fin, payload)
        if opcode == OP_CONTINUATION:
            if self._fragments is None:
                raise ProtocolError("continuation frame without a message to continue")
            self._fragments += payload
            if len(self._fragments) > MAX_MESSAGE_BYTES:
                raise ProtocolError("message over the size limit")
            if fin:
                messages.append(self._fragments)
                self._fragments = None
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._fragments is not None:
                raise ProtocolError("new message before the fragmented one finished")
            if fin:
                messages.append(payload)
            else:
                self._fragments = payload
        else:
            raise ProtocolError(f"reserved opcode {opcode:#x}")
        return True

    def _control(self, opcode: int, fin: bool, payload: bytearray) -> bool:
        if not fin or len(payload) > 125:
            raise ProtocolError("control frames must be final and at most 125 bytes")
        if opcode == OP_PING:
            self.pings.append(bytes(payload))
        elif opcode == OP_CLOSE:
            if len(payload) == 1:
                raise ProtocolError("close frame with a one-byte payload")
            if len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
                reason = payload[2:].decode("utf-8", "replace")
            else:
                code, reason = CLOSE_NO_STATUS, ""
            self.close = (code, reason)
            return False
        elif opcode != OP_PONG:
            raise ProtocolError(f"reserved control opcode {opcode:#x}")
        return True


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def handshake_request(
    host: str, target: str, key: bytes, extra_headers: Sequence[tuple[bytes, bytes]]
) -> bytes:
    """The HTTP/1.1 upgrade request."""
    lines = [
        b"GET " + target.encode() + b" HTTP/1.1",
        b"Host: " + host.encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: 13",
        *(name + b": " + value for name, value in extra_headers),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def check_response(head: bytes, key: bytes) -> None:
    """Check the response head (up to the blank line) to an upgrade request with ``key``.

    Raises HandshakeFailed (with the status when there is one) unless it is a valid 101.
    """
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HandshakeFailed(f"not an HTTP response: {status_line[:80]!r}")
    status = int(parts[1])
    if status != 101:
        raise HandshakeFailed(f"the server answered {status_line[:80]!r}", status)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeFailed("101 without 'Upgrade: websocket'", status)
    if "upgrade" not in headers.get("connection", "").lower():
        raise HandshakeFailed("101 without 'Connection: Upgrade'", status)
    if headers.get("sec-websocket-accept", "").encode() != accept_key(key):
        raise HandshakeFailed("wrong Sec-WebSocket-Accept", status)


class WebSocket:
    """An open client connection. One task receives; any task may send.

    Made by ``open_websocket``; ``receive_messages`` and ``send_texts`` raise ConnectionClosed
    once the connection is closed, whoever closed it.
    """

    def __init__(self, stream: trio.abc.Stream, leftover: bytes, close_timeout: float) -> None:
        self._stream = stream
        self._close_timeout = close_timeout
        self._parser = FrameParser()
        self._leftover = leftover
        self._send_lock = trio.StrictFIFOLock()
        self._close_sent = False
        self._closed: ConnectionClosed | None = None
        self._peer_done = trio.Event()
        self._reactor: Reactor | None = None

    @property
    def closed(self) -> ConnectionClosed | None:
        return self._closed

    async def receive_messages(self) -> list[bytearray]:
        """Wait for at least one complete message; returns every message the read completed.

        Answers pings and echoes a close frame on the way. Raises ConnectionClosed, or
        ProtocolError (after sending close 1002) if the server breaks the protocol.
        """
        data: bytes | bytearray = self._leftover
        self._leftover = b""
        while True:
            if self._closed is not None:
                raise self._closed
            if not data:
                try:
                    data = await self._stream.receive_some(RECEIVE_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise self._finish(CLOSE_ABNORMAL, str(exc)) from exc
                if not data:
                    raise self._finish(CLOSE_ABNORMAL, "EOF without a close frame")
            try:
                messages, replies = self._absorb(data)
            except ProtocolError:
                await self._send_close(CLOSE_PROTOCOL_ERROR)
                raise
            data = b""
            if replies:
                await self._send_quietly(replies)
            if messages:
                return messages

    def _absorb(self, data: bytes | bytearray) -> tuple[list[bytearray], bytes]:
        """Parse ``data``; returns the messages and the control frames to send back.

        After a close frame the connection is finished (``closed`` is set) and the reply
        echoes it. Raises ProtocolError, having finished the connection with 1002.
        """
        parser = self._parser
        try:
            messages = parser.feed(data)
        except ProtocolError as exc:
            self._finish(CLOSE_PROTOCOL_ERROR, exc.reason)
            raise
        replies = b""
        if parser.pings:
            replies = b"".join(client_frame(p, OP_PONG) for p in parser.pings)
            parser.pings.clear()
        if parser.close is not None and self._closed is None:
            code, reason = parser.close
            if not self._close_sent:
                self._close_sent = True
                echo = CLOSE_NORMAL if code == CLOSE_NO_STATUS else code
                replies += client_frame(close_payload(echo), OP_CLOSE)
            self._finish(code, reason)
        return messages, replies

    async def send_texts(self, payloads: Sequence[bytes]) -> None:
        """Send each of ``payloads`` (UTF-8 JSON) as a text message, in one write.

        Raises ConnectionClosed. Cancelling it midway leaves the stream unusable.
        """
        if self._closed is not None or self._close_sent:
            raise self._closed or ConnectionClosed(CLOSE_NORMAL, "closing")
        await self._send_raw(text_frames(payloads))

    async def aclose(self) -> None:
        """Send a close frame, wait up to ``close_timeout`` for the server's, close the stream.

        The wait relies on ``receive_messages`` or a Reactor to see the server's reply.
        """
        try:
            with trio.move_on_after(self._close_timeout):
                await self._send_close(CLOSE_NORMAL)
                await self._peer_done.wait()
        finally:
            self._finish(CLOSE_NORMAL, "closed by the client")
            if self._reactor is not None:
                self._reactor.discard(self)
            await trio.aclose_forcefully(self._stream)

    def _finish(self, code: int, reason: str) -> ConnectionClosed:
        if self._closed is None:
            self._closed = ConnectionClosed(code, reason)
        self._peer_done.set()
        return self._closed

    async def _send_close(self, code: int) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        await self._send_quietly(client_frame(close_payload(code), OP_CLOSE))

    async def _send_quietly(self, data: bytes) -> None:
        """Send control frames, best effort: a broken connection surfaces on the next read."""
        with suppress(ConnectionClosed):
            await self._send_raw(data)

    async def _send_raw(self, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise self._finish(CLOSE_ABNORMAL, str(exc)) from exc


OnMessages = Callable[[list[bytearray], float], None]
OnClosed = Callable[[ConnectionClosed], None]


class Reactor:
    """Receives for many plain-TCP connections in one task, instead of one task per connection.

    A task per connection costs a trip through Trio's scheduler and I/O manager (an epoll
    re-registration, a failed ``recv``, a wake-up) for every read; against a server that writes
    each message separately that is most of the generator's time. Here one task waits on a
    private epoll set holding every connection, then reads each ready socket once (level
    triggered: a socket with more data stays ready) and hands the messages to its callback.
    Linux only (``select.epoll``).
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._members: dict[int, tuple[WebSocket, OnMessages, OnClosed]] = {}
        self._nursery: trio.Nursery | None = None

    @staticmethod
    def available() -> bool:
        return hasattr(select, "epoll")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Receive until cancelled; started once connections can be added."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._loop()
        finally:
            self._epoll.close()

    def add(self, ws: WebSocket, on_messages: OnMessages, on_closed: OnClosed) -> bool:
        """Deliver ``ws``'s messages to ``on_messages(messages, arrival_time)`` from now on.

        ``on_closed`` is called once when the connection closes, whoever closes it. Returns
        False (and does nothing) if the connection is not plain TCP: read it yourself.
        """
        stream = ws._stream
        if not isinstance(stream, trio.SocketStream) or self._nursery is None:
            return False
        fd = stream.socket.fileno()
        ws._reactor = self
        self._members[fd] = (ws, on_messages, on_closed)
        self._epoll.register(fd, select.EPOLLIN)
        leftover, ws._leftover = ws._leftover, b""
        if leftover:
            self._deliver(fd, leftover, trio.current_time())
        return True

    def discard(self, ws: WebSocket) -> None:
        """Stop reading ``ws`` (before its socket is closed); calls its ``on_closed``."""
        stream = ws._stream
        if not isinstance(stream, trio.SocketStream):
            return
        fd = stream.socket.fileno()
        entry = self._members.get(fd)
        if entry is None or entry[0] is not ws:
            return
        del self._members[fd]
        with suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        entry[2](ws._finish(CLOSE_NORMAL, "closed by the client"))

    async def _loop(self) -> None:
        poll, members, read = self._epoll.poll, self._members, os.read
        while True:
            await trio.lowlevel.wait_readable(self._epoll.fileno())
            now = trio.current_time()
            for fd, _mask in poll(0):
                if fd not in members:
                    continue
                try:
                    data = read(fd, RECEIVE_BYTES)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._close(fd, CLOSE_ABNORMAL, str(exc))
                    continue
                if data:
                    self._deliver(fd, data, now)
                else:
                    self._close(fd, CLOSE_ABNORMAL, "EOF without a close frame")

    def _deliver(self, fd: int, data: bytes, now: float) -> None:
        ws, on_messages, _ = self._members[fd]
        assert self._nursery is not None
        try:
            messages, replies = ws._absorb(data)
        except ProtocolError as exc:
            self._nursery.start_soon(ws._send_close, CLOSE_PROTOCOL_ERROR)
            self._close(fd, exc.code, exc.reason)
            return
        if replies:
            self._nursery.start_soon(ws._send_quietly, replies)
        if messages:
            on_messages(messages, now)
        if ws._closed is not None:
            self._close(fd, ws._closed.code, ws._closed.reason)

    def _close(self, fd: int, code: int, reason: str) -> None:
        ws, _, on_closed = self._members.pop(fd)
        with suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        on_closed(ws._finish(code, reason))


async def _handshake(
    stream: trio.abc.Stream, host: str, target: str, extra_headers: Sequence[tuple[bytes, bytes]]
) -> bytes:
    """Upgrade ``stream``; returns the bytes received after the response head."""
    key = base64.b64encode(os.urandom(16))
    await stream.send_all(handshake_request(host, target, key, extra_headers))
    received = bytearray()
    while True:
        end = received.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(received) > MAX_HANDSHAKE_BYTES:
            raise HandshakeFailed("response head too long")
        chunk = await stream.receive_some(RECEIVE_BYTES)
        if not chunk:
            raise HandshakeFailed("the server closed the connection during the handshake")
        received += chunk
    check_response(bytes(received[:end]), key)
    return bytes(received[end + 4 :])


@asynccontextmanager
async def open_websocket(
    url: str,
    *,
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
) -> AsyncIterator[WebSocket]:
    """Connect to a ``ws://`` or ``wss://`` URL and upgrade; closes the connection on exit.

    Raises HandshakeFailed (a non-101 answer, a bad answer, or a timeout) or OSError.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise HandshakeFailed(f"not a ws:// or wss:// URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    host = parts.netloc.rpartition("@")[2]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    stream: trio.abc.Stream
    with trio.move_on_after(connect_timeout) as timer:
        if secure:
            stream = await trio.open_ssl_over_tcp_stream(
                parts.hostname, port, ssl_context=ssl.create_default_context()
            )
        else:
            stream = await trio.open_tcp_stream(parts.hostname, port)
        try:
            leftover = await _handshake(stream, host, target, extra_headers)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    if timer.cancelled_caught:
        raise HandshakeFailed(f"no handshake within {connect_timeout:g} s")
    ws = WebSocket(stream, leftover, close_timeout)
    try:
        yield ws
    finally:
        await ws.aclose()
