"""The lean stream on real sockets: what it receives, when it waits, how it ends."""

import errno
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from service.leanrecv import LeanSocketStream, _accept_connections


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[LeanSocketStream, trio.SocketStream]]:
    """A lean server-side stream and the plain client stream connected to it."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        client = await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1])
        server = LeanSocketStream(await listener.accept())
        async with client, server:
            yield server, client


async def test_it_receives_everything_in_order_waiting_when_drained() -> None:
    async with connected() as (server, client):
        await client.send_all(b"0123456789")
        with trio.testing.assert_checkpoints():  # data at hand still lets other tasks run
            assert await server.receive_some(4) == b"0123"
        assert await server.receive_some(4) == b"4567"  # a full read: more may be there
        assert await server.receive_some(4) == b"89"  # drained: the next read waits first
        async with trio.open_nursery() as nursery:

            async def send_later() -> None:
                await trio.sleep(0.05)
                await client.send_all(b"late")

            nursery.start_soon(send_later)
            with trio.fail_after(5):
                assert await server.receive_some() == b"late"


async def test_the_end_of_the_stream_is_empty_bytes() -> None:
    async with connected() as (server, client):
        await client.send_all(b"last")
        await client.send_eof()
        assert await server.receive_some() == b"last"
        assert await server.receive_some() == b""


async def test_closing_it_wakes_a_waiting_receive_and_later_ones_fail() -> None:
    async with connected() as (server, client):
        await client.send_all(b"x")
        assert await server.receive_some() == b"x"  # drained: the next receives wait first
        async with trio.open_nursery() as nursery:

            async def close_soon() -> None:
                await trio.testing.wait_all_tasks_blocked()
                await server.aclose()

            nursery.start_soon(close_soon)
            with pytest.raises(trio.ClosedResourceError), trio.fail_after(5):
                await server.receive_some()
        with pytest.raises(trio.ClosedResourceError):
            await server.receive_some()


async def test_a_reset_connection_is_broken() -> None:
    async with connected() as (server, client):
        # SO_LINGER with a zero timeout: close sends a reset instead of the end of the stream.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await client.aclose()
        with pytest.raises(trio.BrokenResourceError), trio.fail_after(5):
            await server.receive_some()


async def test_a_waiting_receive_can_be_cancelled() -> None:
    async with connected() as (server, client):
        with trio.move_on_after(0.05) as scope:
            await server.receive_some()
        assert scope.cancelled_caught
        await client.send_all(b"still fine")
        assert await server.receive_some() == b"still fine"


async def test_sends_and_the_socket_are_the_wrapped_streams() -> None:
    async with connected() as (server, client):
        assert isinstance(server.socket, trio.socket.SocketType)
        await server.send_all(b"out")
        assert await client.receive_some() == b"out"
        await server.wait_send_all_might_not_block()
        await server.send_eof()
        assert await client.receive_some() == b""
        with pytest.raises(ValueError, match="max_bytes"):
            await server.receive_some(0)


class FlakyListener(trio.abc.Listener[trio.SocketStream]):
    """A listener whose accepts fail with the errors given, then hand out real streams."""

    def __init__(self, failures: list[OSError], streams: list[trio.SocketStream]) -> None:
        self.failures = failures
        self.streams = streams
        self.closed = False

    async def accept(self) -> trio.SocketStream:
        await trio.lowlevel.checkpoint()
        if self.failures:
            raise self.failures.pop(0)
        if self.streams:
            return self.streams.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self.closed = True


async def test_the_accept_loop_waits_out_running_out_of_descriptors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connected() as (lean, _client):
        served: list[object] = []
        all_served = trio.Event()
        listener = FlakyListener([OSError(errno.EMFILE, "Too many open files")], [lean._stream])

        async def serve(stream: LeanSocketStream) -> None:
            served.append(stream)
            all_served.set()

        with trio.fail_after(2):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_accept_connections, listener, nursery, serve)  # type: ignore[arg-type]
                await all_served.wait()
                nursery.cancel_scope.cancel()
        assert len(served) == 1
        assert isinstance(served[0], LeanSocketStream)
        assert [r.getMessage() for r in caplog.records] == ["accept failed; retrying"]
        assert listener.closed


async def test_the_accept_loop_raises_any_other_error() -> None:
    listener = FlakyListener([OSError(errno.EINVAL, "Invalid argument")], [])

    async def serve(stream: LeanSocketStream) -> None:
        raise AssertionError("nothing to serve")

    async with trio.open_nursery() as nursery:
        with pytest.raises(OSError, match="Invalid argument"), trio.fail_after(2):
            await _accept_connections(listener, nursery, serve)  # type: ignore[arg-type]
    assert listener.closed
