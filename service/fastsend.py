"""Beneath trio-websocket's public API: pre-built frames out, received messages straight in.

Why beneath trio-websocket's public API: ``send_message`` frames the message again for every
recipient (wsproto builds the header and copies the payload each time) and takes a lock per
message. A server's frames are unmasked (RFC 6455 section 5.1), so one broadcast frame is the
same bytes for every connection: we build it once and write it, together with anything else
queued for that connection, in one ``send_all``.

``try_send`` writes a frame straight to an idle connection's socket without waiting (no task
switch per recipient); it uses the stdlib socket inside trio's (``_sock``). ``abort`` cuts a
connection whose peer stopped reading, which ``aclose`` cannot (its close frame waits behind the
blocked data).

``MessageSink`` takes the place of a connection's internal message channel, so trio-websocket's
reader task hands each received message to the gateway at once: without it, every message
crosses a channel to a second task (a task switch per message, and a task per connection). It
also reports the end of the connection without a task waiting for it (``on_close``).

``release_handshake`` drops wsproto's handshake state (h11's among it) once the connection is
open: nothing reads it any more, and it is a good part of an idle connection's memory.
``lighten`` swaps trio-websocket's three events and wsproto's (nearly always empty) event deque
for lighter stand-ins, another 1.4 KiB of every idle connection.

``FastWsproto`` stands in for a connection's wsproto object and parses the usual client frames
with ``wsframes.FastFrameReader``, handing the connection to wsproto for good at the first
frame that is not usual (see service/wsframes.py). A text message the gateway can take without
waiting goes from the parser straight to the sink (``MessageSink.take_now``): no event object,
no trip through trio-websocket's handlers and no await per message.

This relies on trio-websocket internals (``_stream``, ``_stream_lock``, ``_close_reason``,
``_abort_web_socket``, ``_send_channel``, ``_recv_channel``, ``_wsproto``, ``_open_handshake``,
``_close_handshake``, ``_for_testing_peer_closed_connection``, and ``_connection`` and ``_event``
of ``WebSocketRequest``; each stand-in offers the methods trio-websocket calls on what it
replaces), on a closed trio memory channel looking at nothing but its ``_closed`` (its
``_state`` and ``_tasks`` are swapped), on wsproto's handshake object (``_h11_connection``) and
its connection's ``_events`` (append, popleft, truth), and on the server never negotiating an
extension such as permessage-deflate (trio-websocket does not). pyproject pins trio,
trio-websocket and wsproto to the tested ranges; tests/unit/test_fastsend.py and
tests/unit/test_wsframes.py check these assumptions against the installed versions.
"""

import itertools
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest
from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import Event, Request, TextMessage

from actors.flag import Flag
from service.leanrecv import LeanSocketStream
from service.wsframes import DEFAULT_MAX_PAYLOAD as MAX_PAYLOAD
from service.wsframes import FastFrameReader

FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)
# Streams with a trio socket (``.socket``) around a stdlib one (``._sock``). Server connections'
# streams come first: isinstance matches an exact type without a call, while checking against
# trio.SocketStream, an ABC, goes through ABCMeta.__instancecheck__ (~0.2 µs, on every send).
TCP_STREAMS = (LeanSocketStream, trio.SocketStream)


def text_frame(payload: str) -> bytes:
    """One unfragmented, unmasked text frame carrying ``payload`` (as a server sends it)."""
    return utf8_text_frame(payload.encode())


def utf8_text_frame(data: bytes) -> bytes:
    """One unfragmented, unmasked text frame carrying ``data``, which must be UTF-8 text."""
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + data


def supported(websocket: WebSocketConnection) -> bool:
    """Whether ``websocket`` has the internals this module writes through."""
    return all(
        hasattr(websocket, name)
        for name in ("_stream", "_stream_lock", "_close_reason", "_abort_web_socket")
    )


async def send_frames(websocket: WebSocketConnection, frames: bytes) -> None:
    """Write already-built ``frames`` to ``websocket``'s stream, in order with its other sends.

    Raises ConnectionClosed, like ``send_message``, when the connection is closed or breaks.
    """
    if websocket._close_reason:
        raise ConnectionClosed(websocket._close_reason)
    async with websocket._stream_lock:
        try:
            await websocket._stream.send_all(frames)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await websocket._abort_web_socket()
            assert websocket._close_reason is not None
            raise ConnectionClosed(websocket._close_reason) from None


async def abort(websocket: WebSocketConnection) -> None:
    """Close ``websocket``'s TCP connection at once, without a closing handshake (peer: 1006).

    A writer blocked on the stream then gets ConnectionClosed.
    """
    # Shielded, and the socket first: marking the connection closed wakes its reader, whose
    # exit may cancel us before the socket would otherwise be closed.
    with trio.CancelScope(shield=True):
        await trio.aclose_forcefully(websocket._stream)
        await websocket._abort_web_socket()


def can_try_send(websocket: WebSocketConnection) -> bool:
    """Whether ``try_send`` works on ``websocket``: a TCP stream with a reachable stdlib socket."""
    stream = websocket._stream
    return isinstance(stream, TCP_STREAMS) and hasattr(stream.socket, "_sock")


def try_send(websocket: WebSocketConnection, frames: bytes) -> int | None:
    """Write as much of ``frames`` as the socket takes now, without waiting.

    Returns the number of bytes written, or None when nothing may be written now: another send
    is in progress (the stream lock is held), the connection is closed, or the socket is full.
    The caller must make sure nothing it queued earlier is still unsent, and ``can_try_send``.
    """
    if websocket._close_reason or websocket._stream_lock.locked():
        return None
    try:
        stream = websocket._stream
        assert isinstance(stream, TCP_STREAMS), "a server connection is a TCP stream"
        written: int = stream.socket._sock.send(frames)  # type: ignore[attr-defined]
    except OSError:  # BlockingIOError (full) or a broken connection: the writer task handles it
        return None
    return written


class MessageSink:
    """Stands in for a server connection's message channel: messages go to a handler at once.

    trio-websocket's reader task sends each complete message to the connection's channel for
    ``get_message``. With the sink in that place the reader task awaits ``handler(message)``
    instead, in arrival order, and reads no further while it waits, just as on a full channel.
    Messages wait for ``attach``; after ``discard`` they are dropped. The original channel is
    closed and emptied (see ``install_sink``): ``get_message`` learns of the end from ``closed``
    (see ``_ReceivingSide``).

    ``on_close`` reports the end without a task waiting in ``get_message``: it is called once,
    when trio-websocket closes either side of the message channel. It closes the sending side
    (the sink) when the connection is marked closed (the peer's close frame, a broken or ended
    stream, a protocol error) and the receiving side when a close begins here (``aclose``, an
    oversized message); in every other case it closes the channel after one of those.
    """

    def __init__(self) -> None:
        self._handler: Callable[[str | bytes], Awaitable[None]] | None = None
        self._take_now: Callable[[str], bool] | None = None
        self._ready = Flag()
        self.on_close: Callable[[], None] | None = None
        # Set once either side of the channel was closed (``get_message`` then reports the end).
        self.closed = Flag()

    def attach(
        self,
        handler: Callable[[str | bytes], Awaitable[None]],
        take_now: Callable[[str], bool] | None = None,
    ) -> None:
        """Hand messages to ``handler`` from now on.

        ``take_now`` (optional) handles a text message without waiting, or returns False
        without having done anything, and the message then goes to ``handler``.
        """
        self._handler = handler
        self._take_now = take_now
        self._ready.set()

    def discard(self) -> None:
        """Drop every message from now on (the connection is ending)."""
        self._handler = None
        self._take_now = None
        self._ready.set()

    def take_now(self, message: str) -> bool:
        """Handle ``message`` at once if it can be (see ``attach``); False: it was not."""
        if not self._ready.is_set():
            return False
        if self._handler is None:
            return True  # discarded: dropped, as ``send`` would
        return self._take_now is not None and self._take_now(message)

    # What trio-websocket calls on its channel.
    async def send(self, message: str | bytes) -> None:
        if not self._ready.is_set():  # waiting on a set Event would still yield, per message
            await self._ready.wait()
        if self._handler is not None:
            await self._handler(message)

    async def aclose(self) -> None:
        self.closing()
        await trio.lowlevel.checkpoint()

    def closing(self) -> None:
        """Call ``on_close`` unless done already."""
        if not self.closed.is_set():
            self.closed.set()
            if self.on_close is not None:
                self.on_close()


class _ReceivingSide:
    """Stands in for a connection's receiving side of its message channel, to see it closed.

    No message ever reaches the original channel (they all go to the sink), so its receiving
    side is closed at once rather than kept: ``receive`` only waits for the end, and an idle
    connection holds one memory channel object and its task set fewer (about 0.3 KiB).
    """

    __slots__ = ("_sink",)

    def __init__(self, sink: MessageSink):
        self._sink = sink

    # What trio-websocket calls on its channel.
    async def receive(self) -> str | bytes:
        await self._sink.closed.wait()
        raise trio.EndOfChannel

    async def aclose(self) -> None:
        self._sink.closing()
        await trio.lowlevel.checkpoint()


def _spent_channel() -> trio.MemorySendChannel[str | bytes]:
    send, receive = trio.open_memory_channel[str | bytes](0)
    send.close()
    receive.close()
    return send


# A closed channel whose (empty) insides every closed original channel shares (see install_sink).
_SPENT_CHANNEL = _spent_channel()


def install_sink(request: WebSocketRequest) -> MessageSink | None:
    """Route the messages of ``request``'s connection to a new sink; call before ``accept``.

    Returns None when the connection lacks the internals (then use ``get_message``). Before the
    handshake is accepted no message can have arrived, so none is left behind on the channel.
    """
    connection = getattr(request, "_connection", None)
    original = getattr(connection, "_send_channel", None)
    receiving = getattr(connection, "_recv_channel", None)
    if not isinstance(original, trio.MemorySendChannel) or not isinstance(
        receiving, trio.MemoryReceiveChannel
    ):
        return None
    sink = MessageSink()
    original.close()
    receiving.close()
    # trio-websocket's reader task holds on to the original sending side (to close it on its way
    # out, which it now already is: trio then looks at nothing else), and with it the channel's
    # buffer and task dicts, ~1.2 KiB per idle connection. A closed side needs none of them.
    original._state = _SPENT_CHANNEL._state
    original._tasks = _SPENT_CHANNEL._tasks
    connection._send_channel = sink  # type: ignore[union-attr]
    connection._recv_channel = _ReceivingSide(sink)  # type: ignore[union-attr]
    return sink


class FastWsproto:
    """A server connection's wsproto object, with the usual client frames parsed faster.

    Everything but receiving goes to the real object. Received bytes go to a
    ``FastFrameReader`` while the connection is open; from the first frame it does not take (or
    once the connection is closing) they go to wsproto, with any partial frame the reader held,
    and stay there. Events come out in the order their frames arrived.
    """

    def __init__(
        self, real: WSConnection, sink: MessageSink | None = None, max_payload: int = MAX_PAYLOAD
    ) -> None:
        self._real = real
        self._reader: FastFrameReader | None = FastFrameReader(max_payload)
        self._events: list[Event] = []
        # Text messages the sink takes at once never become events: no event object, no trip
        # through trio-websocket's handlers and no await per message.
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @property
    def fast(self) -> bool:
        """Whether received frames are still parsed here (not yet handed to wsproto)."""
        return self._reader is not None

    def receive_data(self, data: bytes | None) -> None:
        reader = self._reader
        if reader is None:
            self._real.receive_data(data)
            return
        if data is not None and self._real.state is ConnectionState.OPEN:
            events, rest = reader.feed(data)
            if self._sink is not None and not self._events:
                events = self._take_now(events)
            self._events.extend(
                TextMessage(data=event) if isinstance(event, str) else event for event in events
            )
            if rest is not None:
                self._hand_over(rest)
            return
        # The end of the stream, a closing connection, or bytes before the handshake is
        # accepted (sent behind the request): wsproto's, from the frame boundary we are at.
        self._hand_over(reader.pending())
        self._real.receive_data(data)

    def _take_now(self, events: list[Event | str]) -> list[Event | str]:
        """The events left once the sink took the leading text messages it could, in order."""
        assert self._sink is not None
        for index, event in enumerate(events):
            if type(event) is not str or not self._sink.take_now(event):
                return events[index:]
        return []

    def _hand_over(self, rest: bytes) -> None:
        self._reader = None
        if rest:
            self._real.receive_data(rest)

    def events(self) -> Iterable[Event]:
        pending = self._events
        if pending:
            self._events = []
        if self._reader is not None:
            # wsproto has had no frame bytes yet, so it has no events: not asking it saves a
            # dozen calls through its parser per read.
            return pending
        return itertools.chain(pending, self._real.events())


def install_fast_frames(
    request: WebSocketRequest, sink: MessageSink | None = None
) -> FastWsproto | None:
    """Parse the usual client frames of ``request``'s connection faster; call before ``accept``.

    With ``sink``, text messages it can take at once go to it straight from the parser. Frames
    over the connection's message size limit go to wsproto, so trio-websocket still closes the
    connection (1009) for them. Returns None (and changes nothing) when the connection lacks the
    internals, or when the client sent bytes behind its handshake request: wsproto holds those,
    so it keeps the stream.
    """
    connection = getattr(request, "_connection", None)
    real = getattr(connection, "_wsproto", None)
    if not isinstance(real, WSConnection) or real.state is not ConnectionState.CONNECTING:
        return None
    h11_connection = getattr(real.handshake, "_h11_connection", None)
    trailing = getattr(h11_connection, "trailing_data", None)
    if trailing is None or trailing[0]:
        return None
    limit = getattr(connection, "_max_message_size", 0)
    fast = FastWsproto(real, sink, min(limit, MAX_PAYLOAD) if limit else MAX_PAYLOAD)
    connection._wsproto = fast  # type: ignore[union-attr]
    return fast


class _Opened:
    """Stands in for wsproto's handshake object once the connection is open.

    After the upgrade wsproto asks its handshake object only for ``events()`` (there are none
    left); the real one still holds the h11 connection, the request's headers and a deque, about
    2 KiB per connection for as long as the connection lives.
    """

    __slots__ = ()

    def events(self) -> Iterator[Event]:
        return iter(())


_OPENED = _Opened()


def release_handshake(websocket: WebSocketConnection) -> bool:
    """Drop the opening handshake's state of ``websocket``, an open server connection.

    Returns False (and changes nothing) when the connection lacks the internals, is not open
    yet, or its handshake still holds events.
    """
    ws = getattr(websocket, "_wsproto", None)
    real = ws._real if isinstance(ws, FastWsproto) else ws
    if not isinstance(real, WSConnection) or real.connection is None:
        return False
    if getattr(real.handshake, "_events", None) != deque():
        return False
    real.handshake = _OPENED  # type: ignore[assignment]
    return True


# What an accepted request holds on to instead of the client's handshake (see release_request).
_RELEASED_REQUEST = Request(host="", target="")


def release_request(request: WebSocketRequest) -> bool:
    """Let go of ``request``'s handshake (its headers, ~0.8 KiB) once it has been answered.

    trio-websocket's connection task keeps the request for the connection's whole life; nothing
    reads it after the answer. Returns False (and changes nothing) without the internals.
    """
    if not isinstance(getattr(request, "_event", None), Request):
        return False
    request._event = _RELEASED_REQUEST
    return True


class _Events(list[Event]):
    """Stands in for a wsproto connection's event deque: an empty deque is a 0.7 KiB block.

    wsproto queues an event there only when the stream ends without a close frame, so nearly
    every connection holds it empty for its whole life; an empty list is 56 bytes.
    """

    __slots__ = ()

    def popleft(self) -> Event:
        return self.pop(0)


# Already set: trio-websocket's server connections only ever set it again, or wait on it set.
_OPEN_HANDSHAKE = Flag()
_OPEN_HANDSHAKE.set()


def lighten(websocket: WebSocketConnection) -> bool:
    """Swap heavy per-connection state of ``websocket``, an open server connection, for light.

    trio-websocket's three ``trio.Event`` (each with its set of waiting tasks, 0.27 KiB) become
    ``Flag``s that make an event only when a task has to wait (closing waits on one), and
    wsproto's empty event deque becomes a list. Returns False (and changes nothing) when the
    connection lacks the internals or is not in the state expected of an open connection.
    """
    names = ("_open_handshake", "_close_handshake", "_for_testing_peer_closed_connection")
    events = [getattr(websocket, name, None) for name in names]
    ws = getattr(websocket, "_wsproto", None)
    real = ws._real if isinstance(ws, FastWsproto) else ws
    connection = getattr(real, "connection", None)
    queued = getattr(connection, "_events", None)
    if not (
        all(type(event) is trio.Event for event in events)
        and events[0].is_set()  # type: ignore[union-attr]
        and not any(event.is_set() or event.statistics().tasks_waiting for event in events[1:])  # type: ignore[union-attr]
        and isinstance(queued, deque)
        and not queued
    ):
        return False
    websocket._open_handshake = _OPEN_HANDSHAKE  # type: ignore[assignment]
    websocket._close_handshake = Flag()  # type: ignore[assignment]
    websocket._for_testing_peer_closed_connection = Flag()  # type: ignore[assignment]
    connection._events = _Events()  # type: ignore[union-attr]
    return True
