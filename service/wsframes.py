"""The client frames a server sees all the time, parsed with a handful of operations each.

wsproto parses every frame with general machinery (a frame decoder, a message decoder, an
incremental UTF-8 decoder, unmasking byte by byte in a generator): about a tenth of a busy
Chorus server's CPU. ``FastFrameReader`` parses only what clients normally send: final
(unfragmented), masked text and binary frames up to ``max_payload`` bytes, and pings and pongs.
At the first frame that is anything else (a close, a fragment, reserved bits, an unmasked frame,
a reserved opcode, a non-minimal length, invalid UTF-8, a large payload) it stops and returns the
bytes from that frame on, so wsproto takes over the connection from a frame boundary and judges
and answers it exactly as it always did. Sans-IO: bytes in, wsproto events out (a text message
as its str).
"""

from wsproto.events import BytesMessage, Event, Ping, Pong

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_PING = 0x9
OP_PONG = 0xA
FIN = 0x80
MASKED = 0x80
# Larger frames go to wsproto, which hands them on as they arrive instead of buffering them
# whole (and trio-websocket closes a connection whose message grows past its limit).
DEFAULT_MAX_PAYLOAD = 64 * 1024


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR-ed with the 4-byte ``key`` repeated (masking and unmasking are alike).

    The XOR runs over two arbitrary-precision integers in C instead of a Python loop per byte.
    """
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * ((n >> 2) + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


class FastFrameReader:
    """Turns received bytes into wsproto events until a frame needs wsproto itself."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        # The start of a frame not yet complete, grown in place: a frame arriving a byte at a
        # time costs linear time, not a copy of the whole buffer per byte.
        self._buffer = bytearray()

    def pending(self) -> bytes:
        """The start of a frame not yet complete."""
        return bytes(self._buffer)

    def feed(self, data: bytes | bytearray) -> tuple[list[Event | str], bytes | None]:
        """The events of every frame completed by ``data``, and the bytes to hand over.

        A text message comes as its ``str``, not as a ``TextMessage``: most are taken straight
        from here (see ``fastsend.FastWsproto``) and never need the event object.
        The second value is None while every frame so far was one of ours (an incomplete one is
        kept for the next call); otherwise it holds everything from the first frame that is not,
        and this reader must not be fed again.
        """
        buffer: bytes | bytearray
        if self._buffer:
            self._buffer += data
            buffer = self._buffer
        else:
            buffer = data  # the usual case: parsed where it is, without a copy
        events: list[Event | str] = []
        offset, end = 0, len(buffer)
        while end - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            opcode = first & 0x0F
            if not second & MASKED or first & 0x70 or not first & FIN:
                return events, bytes(buffer[offset:])
            length = second & 0x7F
            header = 2
            if length == 126:
                if end - offset < 4:
                    break
                length = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
                header = 4
                if length < 126:
                    return events, bytes(buffer[offset:])  # non-minimal: wsproto refuses it
            elif length == 127:
                return events, bytes(buffer[offset:])  # beyond 64 KiB anyway
            if length > self.max_payload:
                return events, bytes(buffer[offset:])
            frame_end = offset + header + 4 + length
            if frame_end > end:
                break
            key = buffer[offset + header : offset + header + 4]
            payload = mask(bytes(buffer[offset + header + 4 : frame_end]), bytes(key))
            if opcode == OP_TEXT:
                try:
                    events.append(payload.decode())
                except UnicodeDecodeError:
                    return events, bytes(buffer[offset:])
            elif opcode == OP_BINARY:
                events.append(BytesMessage(data=payload))
            elif opcode == OP_PING and length <= 125:
                events.append(Ping(payload=payload))
            elif opcode == OP_PONG and length <= 125:
                events.append(Pong(payload=payload))
            else:  # a close, a continuation, a reserved opcode
                return events, bytes(buffer[offset:])
            offset = frame_end
        if buffer is self._buffer:
            del self._buffer[:offset]
        elif offset < end:
            self._buffer = bytearray(buffer[offset:])
        return events, None
