"""The raw WebSocket client: frames checked against wsproto, and the handshake on real sockets."""

import os

import pytest
import trio
import trio_websocket
from wsproto.frame_protocol import FrameProtocol, Opcode

from bench.baselines.trio_ws_broadcast import serve
from service.loadtest import rawws


def server() -> FrameProtocol:
    """Builds frames the way a server does (unmasked)."""
    return FrameProtocol(client=False, extensions=[])


def feed_bytewise(parser: rawws.FrameParser, data: bytes) -> list[bytes]:
    messages: list[bytes] = []
    for i in range(len(data)):
        messages += [bytes(m) for m in parser.feed(data[i : i + 1])]
    return messages


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_every_length_form_parses_whole_and_bytewise(size: int) -> None:
    payload = os.urandom(size)
    frame = bytes(server().send_data(payload))
    assert [bytes(m) for m in rawws.FrameParser().feed(frame)] == [payload]
    if size < 70_000:
        assert feed_bytewise(rawws.FrameParser(), frame) == [payload]


def test_many_frames_in_one_read_come_out_in_order() -> None:
    proto = server()
    texts = [f'{{"n":{i}}}'.encode() * (i % 50) for i in range(300)]
    data = b"".join(bytes(proto.send_data(t.decode())) for t in texts)
    parser = rawws.FrameParser()
    cut = len(data) // 3 + 1  # split a frame across reads
    got = parser.feed(data[:cut]) + parser.feed(data[cut:])
    assert [bytes(m) for m in got] == texts


def test_fragmented_message_with_a_ping_in_between() -> None:
    proto = server()
    data = (
        bytes(proto.send_data("hel", fin=False))
        + bytes(proto.ping(b"are you there"))
        + bytes(proto.send_data("lo ", fin=False))
        + bytes(proto.send_data("world", fin=True))
        + bytes(proto.send_data(b"\x00\x01", fin=True))
    )
    parser = rawws.FrameParser()
    assert [bytes(m) for m in parser.feed(data)] == [b"hello world", b"\x00\x01"]
    assert parser.pings == [b"are you there"]


def test_close_stops_parsing() -> None:
    proto = server()
    data = (
        bytes(proto.send_data("before"))
        + bytes(proto.close(1001, "going away"))
        + bytes(proto.send_data("after"))
    )
    parser = rawws.FrameParser()
    assert [bytes(m) for m in parser.feed(data)] == [b"before"]
    assert parser.close == (1001, "going away")
    assert parser.feed(b"more") == []


def test_close_without_a_code() -> None:
    parser = rawws.FrameParser()
    parser.feed(bytes(server().close()))
    assert parser.close == (rawws.CLOSE_NO_STATUS, "")


def test_pongs_are_ignored() -> None:
    parser = rawws.FrameParser()
    assert parser.feed(b"\x8a\x00" + bytes(server().send_data("x"))) == [b"x"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(rawws.client_frame(b"masked"), id="masked"),
        pytest.param(b"\xc1\x00", id="rsv1"),
        pytest.param(b"\x83\x00", id="reserved-opcode"),
        pytest.param(b"\x80\x00", id="continuation-without-start"),
        pytest.param(b"\x01\x01a\x81\x01b", id="new-message-inside-fragmented"),
        pytest.param(b"\x09\x00", id="fragmented-ping"),
        pytest.param(b"\x89\x7e\x00\x7e" + b"x" * 126, id="long-ping"),
        pytest.param(b"\x88\x01\x03", id="one-byte-close"),
    ],
)
def test_protocol_violations_raise(data: bytes) -> None:
    with pytest.raises(rawws.ProtocolError):
        rawws.FrameParser().feed(data)


@pytest.mark.parametrize("size", [0, 3, 4, 125, 126, 65535, 65536, 100_003])
def test_client_frames_are_masked_and_wsproto_reads_them(size: int) -> None:
    payload = os.urandom(size)
    frame = rawws.client_frame(payload, rawws.OP_BINARY)
    assert frame[1] & 0x80, "client frames must be masked"
    if size >= 8:
        assert payload not in frame
    reader = server()  # a server reads what a client sends, and insists on masking
    reader.receive_bytes(frame)
    (got,) = list(reader.received_frames())
    assert got.opcode is Opcode.BINARY
    assert got.payload == payload
    assert got.frame_finished
    assert got.message_finished


def test_a_batch_of_text_frames_reads_back_in_order() -> None:
    payloads = [f'{{"seq":{i}}}'.encode() for i in range(50)]
    reader = server()
    reader.receive_bytes(rawws.text_frames(payloads))
    frames = list(reader.received_frames())
    assert [f.payload for f in frames] == [p.decode() for p in payloads]
    assert all(f.opcode is Opcode.TEXT for f in frames)


def test_check_response_accepts_a_valid_101() -> None:
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    head = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    )
    rawws.check_response(head, key)  # the example of RFC 6455 section 1.3
    with pytest.raises(rawws.HandshakeFailed, match="Accept"):
        rawws.check_response(head, b"x" + key)


async def test_handshake_and_echo_against_the_baseline(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{port}/v1/realtime?conversation=c1"
    with trio.fail_after(10):
        async with rawws.open_websocket(
            url, extra_headers=[(b"OpenAI-Beta", b"realtime=v1")]
        ) as ws:
            greetings: list[bytes] = []
            while len(greetings) < 2:
                greetings += [bytes(m) for m in await ws.receive_messages()]
            assert b"session.created" in greetings[0]
            assert b"conversation.created" in greetings[1]
            creates = [
                b'{"type":"conversation.item.create","item":{"id":"i%d","text":"%s"}}'
                % (i, b"x" * (i * 40))
                for i in range(5)
            ]
            await ws.send_texts(creates)
            echoed: list[bytes] = []
            while len(echoed) < 5:
                echoed += [bytes(m) for m in await ws.receive_messages()]
            assert [b'"id":"i%d"' % i in m for i, m in enumerate(echoed)] == [True] * 5


async def test_a_rejected_handshake_reports_the_status(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve, "127.0.0.1", 0)
    with trio.fail_after(10), pytest.raises(rawws.HandshakeFailed) as caught:
        async with rawws.open_websocket(f"ws://127.0.0.1:{port}/elsewhere"):
            pass
    assert caught.value.status == 404


async def test_server_ping_is_answered_and_server_close_is_echoed(nursery: trio.Nursery) -> None:
    closed = trio.Event()
    pong: list[bytes] = []

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.ping(b"hi")  # returns when the pong arrives
        pong.append(b"hi")
        await ws.send_message("bye")
        await ws.aclose(code=4000, reason="done")
        closed.set()

    listener = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    with trio.fail_after(10):
        async with rawws.open_websocket(f"ws://127.0.0.1:{listener.port}/") as ws:
            assert [bytes(m) for m in await ws.receive_messages()] == [b"bye"]
            with pytest.raises(rawws.ConnectionClosed) as caught:
                await ws.receive_messages()
            assert (caught.value.code, caught.value.reason) == (4000, "done")
            with pytest.raises(rawws.ConnectionClosed):
                await ws.send_texts([b"late"])
        await closed.wait()
    assert pong == [b"hi"]


async def test_the_reactor_delivers_answers_pings_and_reports_the_close(
    nursery: trio.Nursery,
) -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("one")
        await ws.ping(b"hi")  # returns when the pong arrives
        await ws.send_message("two")
        await ws.aclose(code=4001, reason="done")

    listener = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    reactor = rawws.Reactor()
    await nursery.start(reactor.run)
    received: list[bytes] = []
    closed: list[rawws.ConnectionClosed] = []
    done = trio.Event()

    def on_messages(messages: list[bytearray], now: float) -> None:
        assert now <= trio.current_time()
        received.extend(bytes(m) for m in messages)

    def on_closed(error: rawws.ConnectionClosed) -> None:
        closed.append(error)
        done.set()

    with trio.fail_after(10):
        async with rawws.open_websocket(f"ws://127.0.0.1:{listener.port}/") as ws:
            assert reactor.add(ws, on_messages, on_closed)
            await done.wait()
    assert received == [b"one", b"two"]
    assert [(e.code, e.reason) for e in closed] == [(4001, "done")]


async def test_closing_a_connection_in_the_reactor_reports_it_once(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve, "127.0.0.1", 0)
    reactor = rawws.Reactor()
    await nursery.start(reactor.run)
    sender, inbox = trio.open_memory_channel[bytes](16)
    closed: list[rawws.ConnectionClosed] = []

    def on_messages(messages: list[bytearray], _now: float) -> None:
        for message in messages:
            sender.send_nowait(bytes(message))

    url = f"ws://127.0.0.1:{port}/v1/realtime?conversation=c2"
    with trio.fail_after(10):
        async with rawws.open_websocket(url) as ws:
            assert reactor.add(ws, on_messages, closed.append)
            assert b"session.created" in await inbox.receive()
            assert b"conversation.created" in await inbox.receive()
            await ws.send_texts([b'{"type":"conversation.item.create","item":{"id":"a"}}'])
            assert b'"id":"a"' in await inbox.receive()
            assert closed == []
    assert len(closed) == 1
