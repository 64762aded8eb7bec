"""Pre-built frames: byte-identical to trio-websocket's own, and received intact by a client."""

import functools
import gc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast

import pytest
import trio
import trio.lowlevel
import wsproto
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket,
    serve_websocket,
)
from wsproto.events import CloseConnection, TextMessage
from wsproto.frame_protocol import CloseReason as WsprotoCloseReason

from service import fastsend

Handler = Callable[[WebSocketConnection], Awaitable[None]]
HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
RequestHandler = Callable[[WebSocketRequest], Awaitable[None]]


@asynccontextmanager
async def serving(
    handler: Handler | RequestHandler, *, wants_request: bool = False
) -> AsyncIterator[tuple[int, trio.Event]]:
    """A server on port 0 running ``handler`` on its first connection (or on its request).

    Yields the port and an event set once the handler returned (its assertions ran).
    """
    handled = trio.Event()

    async def accept(request: WebSocketRequest) -> None:
        if wants_request:
            await cast(RequestHandler, handler)(request)
        else:
            await cast(Handler, handler)(await request.accept())
        handled.set()

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(
                serve_websocket, accept, "127.0.0.1", 0, None, handler_nursery=nursery
            )
        )
        yield server.port, handled
        nursery.cancel_scope.cancel()


async def texts(port: int, count: int) -> list[str]:
    """Connect, read ``count`` text messages, close."""
    received: list[str] = []
    async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as client:
        while len(received) < count:
            message = await client.get_message()
            assert isinstance(message, str)
            received.append(message)
    return received


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_frames_match_wsproto(size: int) -> None:
    payload = "é" * (size // 2) + "x" * (size % 2)
    server = wsproto.connection.Connection(wsproto.ConnectionType.SERVER)
    assert fastsend.text_frame(payload) == server.send(TextMessage(data=payload))


async def test_frames_reach_a_real_client_in_order_with_normal_sends() -> None:
    async def handler(websocket: WebSocketConnection) -> None:
        assert fastsend.supported(websocket)
        await websocket.send_message("first")
        await fastsend.send_frames(
            websocket, fastsend.text_frame("second") + fastsend.text_frame("third" * 30_000)
        )
        await websocket.send_message("fourth")
        with pytest.raises(ConnectionClosed):
            await websocket.get_message()  # the client has what it wanted and closes
        with pytest.raises(ConnectionClosed):
            await fastsend.send_frames(websocket, fastsend.text_frame("too late"))

    async with serving(handler) as (port, handled):
        with trio.fail_after(5):
            received = await texts(port, 4)
            await handled.wait()
    assert received == ["first", "second", "third" * 30_000, "fourth"]


async def test_abort_unblocks_a_writer_whose_peer_stopped_reading() -> None:
    outcome: list[str] = []

    async def handler(websocket: WebSocketConnection) -> None:
        frame = fastsend.text_frame("x" * 65536)

        async def write_forever() -> None:
            try:
                while True:
                    await fastsend.send_frames(websocket, frame)
            except ConnectionClosed:
                outcome.append("writer closed")

        async with trio.open_nursery() as inner:
            inner.start_soon(write_forever)
            await trio.sleep(0.5)  # the peer reads nothing: the socket buffers fill up
            await fastsend.abort(websocket)

    async with serving(handler) as (port, handled):
        with trio.fail_after(10):
            # A peer that completes the handshake by hand and then never reads.
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(HANDSHAKE)
                await handled.wait()
    assert outcome == ["writer closed"]


async def test_try_send_writes_what_the_socket_takes_and_refuses_while_locked() -> None:
    results: list[int | None] = []

    async def handler(websocket: WebSocketConnection) -> None:
        assert fastsend.can_try_send(websocket)
        frame = fastsend.text_frame("direct")
        results.append(fastsend.try_send(websocket, frame))
        async with websocket._stream_lock:
            results.append(fastsend.try_send(websocket, frame))  # another send is in progress
        with pytest.raises(ConnectionClosed):
            await websocket.get_message()
        results.append(fastsend.try_send(websocket, frame))  # closed

    async with serving(handler) as (port, handled):
        with trio.fail_after(5):
            received = await texts(port, 1)
            await handled.wait()
    assert received == ["direct"]
    assert results == [len(fastsend.text_frame("direct")), None, None]


async def test_a_sink_hands_messages_to_its_handler_in_order_once_attached() -> None:
    handled_messages: list[str | bytes] = []
    all_handled = trio.Event()
    ended: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        sink = fastsend.install_sink(request)
        assert sink is not None
        websocket = await request.accept()
        await trio.sleep(0.2)  # messages arrive meanwhile and wait: nothing is attached yet
        assert handled_messages == []

        async def take(message: str | bytes) -> None:
            await trio.lowlevel.checkpoint()  # a handler may wait; the reader reads on after it
            handled_messages.append(message)
            if len(handled_messages) == 51:
                all_handled.set()

        sink.attach(take)
        with pytest.raises(ConnectionClosed):
            await websocket.get_message()  # only reports the end: messages go to the sink
        ended.append("closed")

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as client:
                for number in range(50):
                    await client.send_message(f"m{number}")
                await client.send_message(b"binary")
                await all_handled.wait()
            await handled.wait()
    assert handled_messages == [*(f"m{number}" for number in range(50)), b"binary"]
    assert ended == ["closed"]


async def test_an_accepted_connection_keeps_neither_its_channel_nor_its_handshake() -> None:
    kept: list[object] = []

    async def handler(request: WebSocketRequest) -> None:
        channel = weakref.ref(websocket_of(request)._send_channel._state)
        sink = fastsend.install_sink(request)
        assert sink is not None
        assert request.headers  # the client's, until answered
        websocket = await request.accept()
        assert fastsend.release_request(request)
        gc.collect()
        kept.extend([channel(), list(request.headers)])
        sink.attach(echo(websocket))
        with pytest.raises(ConnectionClosed):
            await websocket.get_message()

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as client:
                await client.send_message("still served")
                assert await client.get_message() == "still served"
            await handled.wait()
    assert kept == [None, []]


def echo(websocket: WebSocketConnection) -> Callable[[str | bytes], Awaitable[None]]:
    async def send_back(message: str | bytes) -> None:
        await websocket.send_message(message)

    return send_back


async def test_a_discarded_sink_drops_messages_and_the_connection_still_closes() -> None:
    async def handler(request: WebSocketRequest) -> None:
        sink = fastsend.install_sink(request)
        assert sink is not None
        websocket = await request.accept()
        await trio.sleep(0.1)  # a message is waiting in the reader task
        sink.discard()
        # The reader must be free to take the client's close frame: aclose returns at once.
        with trio.fail_after(2):
            await websocket.aclose(1000, "bye")

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            # By hand: trio-websocket's client leaks its socket when the server closes first.
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(HANDSHAKE)
                payload = b"never handled"  # masked with a zero key, so sent as is
                await stream.send_all(bytes([0x81, 0x80 | len(payload)]) + bytes(4) + payload)
                close_frame = bytes([0x88, 5]) + (1000).to_bytes(2, "big") + b"bye"
                received = b""
                while not received.endswith(close_frame):
                    received += await stream.receive_some()
                await stream.send_all(bytes([0x88, 0x80]) + bytes(4))  # the closing handshake
                assert await stream.receive_some() == b""  # and the server ends the connection
            await handled.wait()


async def opened_by_hand(port: int) -> trio.SocketStream:
    """A TCP connection to ``port`` whose WebSocket handshake is done (the response read)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(HANDSHAKE)
    await receive_until(stream, b"\r\n\r\n")
    return stream


async def receive_until(stream: trio.SocketStream, ending: bytes) -> None:
    """Read from ``stream`` until what it sent ends with ``ending``."""
    received = b""
    while not received.endswith(ending):
        received += await stream.receive_some()


def masked_text(text: str) -> bytes:
    payload = text.encode()
    return bytes([0x81, 0x80 | len(payload)]) + bytes(4) + payload  # a zero mask


async def test_usual_frames_are_parsed_fast_after_the_handshake() -> None:
    # The handshake goes first on its own, so nothing is left behind it for wsproto.
    received: list[object] = []

    async def handler(request: WebSocketRequest) -> None:
        fast = fastsend.install_fast_frames(request)
        assert fast is not None
        assert not fastsend.release_handshake(websocket_of(request))  # not open yet
        websocket = await request.accept()
        handshake = fast._real.handshake
        received.append(fastsend.release_handshake(websocket))
        assert fast._real.handshake is not handshake  # what follows works without it
        received.extend([await websocket.get_message() for _ in range(3)])
        received.append(fast.fast)
        await websocket.aclose()

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            async with await opened_by_hand(port) as stream:
                ping = bytes([0x89, 0x82]) + bytes(4) + b"hi"
                await stream.send_all(masked_text("a") + ping + masked_text("b") + masked_text("c"))
                await receive_until(stream, bytes([0x8A, 2]) + b"hi")  # the pong for our ping
                await stream.send_all(bytes([0x88, 0x80]) + bytes(4))
                while await stream.receive_some():
                    pass
            await handled.wait()
    assert received == [True, "a", "b", "c", True]


def websocket_of(request: WebSocketRequest) -> WebSocketConnection:
    connection: WebSocketConnection = request._connection
    return connection


async def test_frames_sent_behind_the_handshake_stay_with_wsproto() -> None:
    received: list[object] = []

    async def handler(request: WebSocketRequest) -> None:
        received.append(fastsend.install_fast_frames(request))  # None: wsproto holds bytes
        websocket = await request.accept()
        received.append(await websocket.get_message())
        await websocket.aclose()

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(HANDSHAKE + masked_text("pipelined"))
                answered = b""
                while b"\r\n\r\n" not in answered:
                    answered += await stream.receive_some()
                # trio-websocket 0.12 with wsproto 1.3 drops a frame sent behind the handshake
                # request (not ours to mend here); the connection goes on with wsproto.
                await stream.send_all(masked_text("next"))
                while b"\x88" not in answered:  # the server's close frame
                    answered += await stream.receive_some()
                await stream.send_all(bytes([0x88, 0x80]) + bytes(4))
                while await stream.receive_some():
                    pass
            await handled.wait()
    assert received[0] is None
    assert received[-1] == "next"


async def test_a_lightened_connection_pings_receives_and_closes_from_our_side() -> None:
    outcome: list[object] = []
    replied = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        fastsend.install_fast_frames(request)
        websocket = websocket_of(request)
        assert not fastsend.lighten(websocket)  # not open yet
        await request.accept()
        fastsend.release_handshake(websocket)
        outcome.append(fastsend.lighten(websocket))
        outcome.append(fastsend.lighten(websocket))  # done already: nothing to swap
        assert not isinstance(cast(object, websocket._close_handshake), trio.Event)
        with trio.fail_after(2):
            outcome.append(await websocket.get_message())
            await websocket.ping(b"p")  # answered: the pong comes through the reader task
            await websocket.aclose(4001, "bye")  # waits for the client's closing handshake
        outcome.append(websocket.closed)
        outcome.append(replied.is_set())

    async with serving(handler, wants_request=True) as (port, handled):
        with trio.fail_after(5):
            # By hand: trio-websocket's client leaks its socket when the server closes first.
            async with await opened_by_hand(port) as stream:
                await stream.send_all(masked_text("hi"))
                await receive_until(stream, bytes([0x89, 1]) + b"p")  # our ping
                await stream.send_all(bytes([0x8A, 0x81]) + bytes(4) + b"p")  # the pong
                await receive_until(stream, bytes([0x88, 5]) + (4001).to_bytes(2, "big") + b"bye")
                await trio.sleep(0.2)  # the server's aclose waits for us meanwhile
                replied.set()
                await stream.send_all(bytes([0x88, 0x80]) + bytes(4))  # the closing handshake
                assert await stream.receive_some() == b""
            await handled.wait()
    assert outcome[:3] == [True, False, "hi"]
    assert outcome[4] is True
    assert isinstance(outcome[3], CloseReason)
    assert outcome[3].code == 1005  # the client's answer to our close carried no code


async def test_a_lightened_connection_sees_the_peer_close() -> None:
    outcome: list[object] = []

    async def handler(websocket: WebSocketConnection) -> None:
        assert fastsend.release_handshake(websocket)
        assert fastsend.lighten(websocket)
        with pytest.raises(ConnectionClosed) as closed:
            await websocket.get_message()
        assert closed.value.reason is not None
        outcome.append(closed.value.reason.code)
        outcome.append(websocket._for_testing_peer_closed_connection.is_set())
        await websocket.aclose()  # returns at once: the closing handshake is over

    async with serving(handler) as (port, handled):
        with trio.fail_after(5):
            async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as client:
                await client.aclose(1000, "done")
            await handled.wait()
    assert outcome == [1000, True]


def test_the_light_event_queue_serves_wsproto_like_its_deque() -> None:
    server = wsproto.connection.Connection(wsproto.ConnectionType.SERVER)
    server._events = fastsend._Events()  # type: ignore[assignment]
    server.receive_data(None)  # the stream ended without a close frame
    assert list(server.events()) == [CloseConnection(code=WsprotoCloseReason.ABNORMAL_CLOSURE)]
    assert list(server.events()) == []
