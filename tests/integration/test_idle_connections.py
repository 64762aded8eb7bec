"""Real sockets: an idle connection costs no task of its own; a full socket still gets it all."""

import trio
import trio.testing

from tests.helpers import TIMEOUT, connect, message, running_server

# Big frames fill the socket buffers after a few items, so later ones wait in the queue.
TEXT = "y" * 200_000


def task_count() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for n in task.child_nurseries for child in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


async def test_an_idle_connection_runs_only_trio_websockets_two_tasks() -> None:
    async with running_server() as url, connect(url + "?conversation=quiet") as first:
        await first.send({"type": "conversation.item.create", "item": message("warm")})
        await first.receive_type("conversation.item.created")
        await trio.testing.wait_all_tasks_blocked()
        before = task_count()
        async with (
            connect(url + "?conversation=quiet&role=observer"),
            connect(url + "?conversation=quiet&role=observer"),
        ):
            await trio.testing.wait_all_tasks_blocked()
            # Each connection: the client's reader task here, the server's handler and reader.
            assert task_count() - before == 2 * (1 + 2)


async def test_a_reader_that_falls_behind_gets_every_change_in_order() -> None:
    items = 30
    async with (
        running_server(subscriber_queue=1024) as url,
        connect(url + "?conversation=bulk") as writer,
        connect(url + "?conversation=bulk&role=observer") as late,
    ):
        with trio.fail_after(TIMEOUT):
            for index in range(items):
                item = message(f"i{index}", text=TEXT)
                await writer.send({"type": "conversation.item.create", "item": item})
                assert (await writer.receive())["position"] == index + 1
            positions = [(await late.receive())["position"] for _ in range(items)]
        assert positions == list(range(1, items + 1))


async def silent_client(url: str, target: str) -> trio.SocketStream:
    """Upgrade a TCP connection to ``target`` by hand; it then reads and answers nothing."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(
        f"GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += await stream.receive_some(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return stream


async def test_a_write_blocked_on_a_client_that_goes_away_ends_at_once() -> None:
    # The client stops reading, then shuts down its sending side: the server's reader sees the
    # end while its write is blocked. No stall timeout rescues that write: the end must stop it.
    async with (
        running_server(write_stall_timeout=0) as url,
        connect(url + "?conversation=gone") as writer,
    ):
        await trio.testing.wait_all_tasks_blocked()
        before = task_count()
        with trio.fail_after(TIMEOUT):
            stalled = await silent_client(url, "/v1/realtime?conversation=gone&role=observer")
            for index in range(20):
                item = message(f"i{index}", text=TEXT)
                await writer.send({"type": "conversation.item.create", "item": item})
                await writer.receive_type("conversation.item.created")
            await trio.testing.wait_all_tasks_blocked()
            assert task_count() == before + 2  # the server's handler, blocked writing, and reader
            await stalled.send_eof()
            await trio.testing.wait_all_tasks_blocked(cushion=0.1)
            assert task_count() == before
        await stalled.aclose()


async def test_a_close_begun_by_the_server_ends_the_connection_though_never_answered() -> None:
    # The keepalive task closes the idle connection (4001); the client never answers the close
    # frame, so nothing comes back through the reader: the handler must end all the same.
    async with running_server(idle_timeout=0.3, handshake_timeout=0.5) as url:
        await trio.testing.wait_all_tasks_blocked()
        before = task_count()
        with trio.fail_after(TIMEOUT):
            silent = await silent_client(url, "/v1/realtime?conversation=idle")
            await trio.testing.wait_all_tasks_blocked()
            # The handler and reader; the actor (supervised). Its publisher runs only while a
            # batch waits: none does.
            assert task_count() == before + 4
            await trio.sleep(2)  # idle 0.3 s, seen within 0.1 s, the close frame unanswered 0.5 s
            assert task_count() == before + 2  # the actor (supervised) waits to passivate
        await silent.aclose()


async def test_a_connection_that_never_sends_its_handshake_leaves_no_task_behind() -> None:
    # Its reader runs beside it in the server's handler nursery (no nursery per connection):
    # closing the stream at the handshake timeout must end that reader too.
    async with running_server(handshake_timeout=0.2) as url:
        await trio.testing.wait_all_tasks_blocked()
        before = task_count()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with trio.fail_after(TIMEOUT):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await trio.testing.wait_all_tasks_blocked()
                assert task_count() == before + 2  # the server's connection task and its reader
                assert await stream.receive_some(100) == b""  # closed at the timeout
                await trio.testing.wait_all_tasks_blocked()
                assert task_count() == before
