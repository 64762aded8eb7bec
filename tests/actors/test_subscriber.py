"""A subscriber's direct path never lets a new item overtake one already handed to the queue."""

from collections.abc import Sequence

import trio
import trio.testing

from actors.conversation.messages import Outbound, Relayed, Subscriber


class Socket:
    """Stands in for a connection's direct write: takes items while ``open``, else refuses."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[object] = []

    def write(self, items: Sequence[Outbound]) -> Sequence[Outbound]:
        if not self.open:
            return items
        self.written.extend(items)
        return []


def subscriber(
    socket: Socket, size: int = 8
) -> tuple[Subscriber, trio.MemoryReceiveChannel[Outbound]]:
    send, receive = trio.open_memory_channel[Outbound](size)
    sub = Subscriber(send)
    sub.direct = socket.write
    return sub, receive


def test_items_go_direct_while_nothing_is_queued() -> None:
    socket = Socket()
    sub, receive = subscriber(socket)
    assert sub.offer(Relayed("a"))
    assert sub.offer(Relayed("b"))
    assert socket.written == [Relayed("a"), Relayed("b")]
    assert sub.backlog == 0
    assert receive.statistics().current_buffer_used == 0


async def test_an_item_handed_to_a_waiting_writer_keeps_later_ones_off_the_direct_path() -> None:
    # The writer is waiting in receive(): trio hands it the item without buffering it, so the
    # queue looks empty although the writer has not written the item yet.
    socket = Socket()
    sub, receive = subscriber(socket)
    taken: list[Outbound] = []

    async def writer() -> None:
        taken.append(await receive.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        socket.open = False  # the socket is full: the first item is queued
        assert sub.offer(Relayed("first"))
        socket.open = True  # it drained, but "first" is still ahead of the next item
        assert sub.offer(Relayed("second"))
        assert socket.written == []
    assert taken == [Relayed("first")]
    assert receive.receive_nowait() == Relayed("second")
    sub.written(2)
    assert sub.offer(Relayed("third"))
    assert socket.written == [Relayed("third")]


def test_items_offered_together_go_direct_in_one_write_and_in_order() -> None:
    socket = Socket()
    sub, receive = subscriber(socket)
    writes: list[list[Outbound]] = []

    def write(items: Sequence[Outbound]) -> Sequence[Outbound]:
        writes.append(list(items))
        return items[2:]  # the socket takes two of the three

    sub.direct = write
    assert sub.offer_all([Relayed("a"), Relayed("b"), Relayed("c")])
    assert writes == [[Relayed("a"), Relayed("b"), Relayed("c")]]
    assert receive.receive_nowait() == Relayed("c")
    assert sub.backlog == 1


def test_items_that_do_not_fit_the_queue_drop_the_subscriber_as_slow() -> None:
    socket = Socket()
    socket.open = False
    sub, _receive = subscriber(socket, size=2)
    assert not sub.offer_all([Relayed("a"), Relayed("b"), Relayed("c")])
    assert sub.overflowed
    assert sub.gone


def test_the_rest_of_a_partly_written_item_is_queued_and_counted() -> None:
    socket = Socket()
    sub, receive = subscriber(socket)
    sub.direct = lambda items: [Relayed(b"rest")]
    assert sub.offer(Relayed("whole"))
    assert receive.receive_nowait() == Relayed(b"rest")
    assert sub.backlog == 1


async def test_a_catch_up_put_counts_before_it_waits_for_room() -> None:
    socket = Socket()
    sub, receive = subscriber(socket, size=1)
    socket.open = False
    assert sub.offer(Relayed("queued"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sub.put, Relayed("waiting"))
        await trio.testing.wait_all_tasks_blocked()
        assert sub.backlog == 2
        assert receive.receive_nowait() == Relayed("queued")
    assert receive.receive_nowait() == Relayed("waiting")
    sub.drop()
    assert not sub.offer(Relayed("late"))
