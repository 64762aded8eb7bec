"""The fast frame reader yields exactly the messages wsproto would, however the bytes arrive."""

import itertools
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from service.fastsend import FastWsproto, MessageSink
from service.wsframes import FastFrameReader, mask

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    long_length: bool = False,
) -> bytes:
    """A client frame; ``long_length`` uses the 2-byte length form even for a short payload."""
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126 and not long_length:
        header = bytes([first, mask_bit | n])
    elif n < 0x10000:
        header = bytes([first, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + mask(payload, key)


def opened_server() -> WSConnection:
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(HANDSHAKE)
    assert isinstance(next(server.events()), Request)
    server.send(AcceptConnection())
    assert server.state is ConnectionState.OPEN
    return server


def messages(
    connection: Any, chunks: list[bytes], out: list[tuple[str, object]] | None = None
) -> list[tuple[str, object]]:
    """Feed ``chunks`` the way trio-websocket does; whole messages, pings, pongs and the close."""
    out = [] if out is None else out
    parts: list[Any] = []
    for chunk in chunks:
        if connection.state is not ConnectionState.OPEN:
            break
        connection.receive_data(chunk)
        for event in connection.events():
            if isinstance(event, Message):
                parts.append(event.data)
                if event.message_finished:
                    kind = "text" if isinstance(event, TextMessage) else "bytes"
                    out.append((kind, type(parts[0])().join(parts)))
                    parts = []
            elif isinstance(event, CloseConnection):
                out.append(("close", event.code))
            elif isinstance(event, Ping | Pong):
                out.append((type(event).__name__, event.payload))
            else:
                out.append((type(event).__name__, None))
    return out


usual = st.one_of(
    st.text(max_size=300).map(lambda text: frame(0x1, text.encode())),
    st.binary(max_size=300).map(lambda data: frame(0x2, data)),
    st.binary(max_size=125).map(lambda data: frame(0x9, data)),
    st.binary(max_size=125).map(lambda data: frame(0xA, data)),
)
unusual = st.one_of(
    st.just(frame(0x1, ("é" * 40_000).encode())),  # past 64 KiB
    st.just(frame(0x8, (1000).to_bytes(2, "big") + b"bye")),  # close
    st.just(frame(0x1, b"part", fin=False) + frame(0x0, b"-rest")),  # fragments
    st.just(frame(0x1, b"unmasked", masked=False)),
    st.just(frame(0x1, b"rsv", rsv=0x40)),
    st.just(frame(0x3, b"reserved opcode")),
    st.just(frame(0x1, b"\xff\xfe not utf-8")),
    st.just(frame(0x1, b"short", long_length=True)),  # non-minimal length
    st.just(frame(0x9, b"x" * 126)),  # control frames too long
    st.just(frame(0xA, b"x" * 200)),
    st.just(frame(0xA, b"", fin=False)),  # a fragmented control frame
)


# Frames, each marked usual (parsed here) or not.
framed = st.lists(
    st.one_of(usual.map(lambda f: (f, True)), unusual.map(lambda f: (f, False))), max_size=12
)


def chunked(frames: list[tuple[bytes, bool]], cuts: list[int]) -> list[bytes]:
    """The frames' bytes, cut into reads at ``cuts`` (modulo the length)."""
    stream = b"".join(one for one, _ in frames)
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    return [stream[a:b] for a, b in itertools.pairwise(points)] or [b""]


@settings(max_examples=300, deadline=None)
@given(
    frames=framed,
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=8),
)
def test_the_same_messages_as_wsproto_for_any_frames_and_any_chunking(
    frames: list[tuple[bytes, bool]], cuts: list[int]
) -> None:
    chunks = chunked(frames, cuts)
    expected = messages(opened_server(), chunks)
    fast = FastWsproto(opened_server())
    assert messages(fast, chunks) == expected
    if all(is_usual for _, is_usual in frames):
        assert fast.fast  # every frame was parsed here, none by wsproto


@settings(max_examples=200, deadline=None)
@given(
    frames=framed,
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=8),
    answers=st.lists(st.booleans(), max_size=12),
)
def test_messages_a_sink_takes_at_once_keep_their_place_among_the_rest(
    frames: list[tuple[bytes, bool]], cuts: list[int], answers: list[bool]
) -> None:
    chunks = chunked(frames, cuts)
    expected = messages(opened_server(), chunks)
    seen: list[tuple[str, object]] = []
    offers = iter(answers)

    def take_now(text: str) -> bool:  # takes or leaves each message, as the answers say
        taken = next(offers, False)
        if taken:
            seen.append(("text", text))
        return taken

    async def handler(message: str | bytes) -> None:
        raise AssertionError("messages that are not taken at once stay events here")

    sink = MessageSink()
    sink.attach(handler, take_now)
    assert messages(FastWsproto(opened_server(), sink), chunks, seen) == expected


def test_frames_over_the_message_limit_go_to_wsproto() -> None:
    fast = FastWsproto(opened_server(), max_payload=100)
    fast.receive_data(frame(0x1, b"x" * 100) + frame(0x1, b"y" * 101))
    received = list(fast.events())
    assert not fast.fast
    texts = [event.data for event in received if isinstance(event, TextMessage)]
    assert texts == ["x" * 100, "y" * 101]  # the second one parsed by wsproto


def test_usual_frames_are_parsed_here_and_the_first_unusual_one_hands_over() -> None:
    reader = FastFrameReader()
    hello, ping, close = frame(0x1, b"hello"), frame(0x9, b"p"), frame(0x8, b"\x03\xe8")
    events, rest = reader.feed(hello[:3])
    assert (events, rest) == ([], None)  # a partial frame waits for the rest
    events, rest = reader.feed(hello[3:] + ping + close + hello)
    assert events == ["hello", Ping(payload=b"p")]  # a text message comes as its str
    assert rest == close + hello


def test_a_fast_connection_hands_over_a_partial_frame_when_it_starts_closing() -> None:
    server = opened_server()
    fast = FastWsproto(server)
    text = frame(0x1, b"caught in the middle")
    fast.receive_data(text[:5])
    server.send(CloseConnection(1000))  # we close: wsproto takes the stream, partial frame too
    fast.receive_data(text[5:] + frame(0x8, (1000).to_bytes(2, "big")))
    received: list[Event] = list(fast.events())
    assert not fast.fast
    assert [type(event) for event in received] == [TextMessage, CloseConnection]
    assert isinstance(received[0], TextMessage)
    assert received[0].data == "caught in the middle"


def test_large_binary_frames_go_to_wsproto() -> None:
    fast = FastWsproto(opened_server())
    fast.receive_data(frame(0x2, b"x" * 70_000))
    received = list(fast.events())
    assert not fast.fast
    assert isinstance(received[-1], BytesMessage)
    assert b"".join(event.data for event in received if isinstance(event, BytesMessage)) == (
        b"x" * 70_000
    )


def test_mask_is_its_own_inverse() -> None:
    payload, key = os.urandom(1001), os.urandom(4)
    masked = mask(payload, key)
    assert masked != payload
    assert mask(masked, key) == payload
    assert mask(b"\x00\x00\x00\x00\x00", b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04\x01"
    assert mask(b"", key) == b""


def test_a_frame_arriving_a_byte_at_a_time() -> None:
    reader = FastFrameReader()
    sent = frame(0x1, ("ü" * 30_000).encode()) + frame(0x2, b"then this")
    received: list[Event | str] = []
    for index in range(len(sent)):
        events, rest = reader.feed(sent[index : index + 1])
        assert rest is None
        received.extend(events)
    assert received == ["ü" * 30_000, BytesMessage(data=b"then this")]
    assert reader.pending() == b""
