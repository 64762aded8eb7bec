"""A connection's Outbox (bounded, in order, closed like a trio channel) and the lazy Flag."""

from collections.abc import Callable

import pytest
import trio
import trio.testing

from actors.conversation.messages import Relayed
from actors.conversation.outbox import Outbox
from actors.flag import Flag


def test_items_come_out_in_order_in_batches_and_a_full_queue_refuses() -> None:
    outbox = Outbox(3)
    for name in "abc":
        outbox.send_nowait(Relayed(name))
    with pytest.raises(trio.WouldBlock):
        outbox.send_nowait(Relayed("d"))
    assert len(outbox) == 3
    assert outbox.statistics().current_buffer_used == 3
    assert outbox.take(2) == [Relayed("a"), Relayed("b")]
    assert outbox.take(2) == [Relayed("c")]
    assert outbox.take(2) == []


def test_a_closed_queue_keeps_its_items_for_the_writer_then_ends() -> None:
    outbox = Outbox(3)
    outbox.send_nowait(Relayed("a"))
    outbox.close()
    with pytest.raises(trio.ClosedResourceError):
        outbox.send_nowait(Relayed("b"))
    assert not outbox.ended
    assert outbox.take(10) == [Relayed("a")]
    assert outbox.ended


def test_once_the_writer_is_gone_items_are_refused_as_broken() -> None:
    outbox = Outbox(3)
    outbox.send_nowait(Relayed("a"))
    outbox.close_receiver()
    assert len(outbox) == 0
    with pytest.raises(trio.BrokenResourceError):
        outbox.send_nowait(Relayed("b"))


async def sleeps_until(outbox: Outbox, nudge: Callable[[], object]) -> None:
    """Assert that a writer waiting on ``outbox`` sleeps, and that ``nudge()`` wakes it."""
    woken = False

    async def writer() -> None:
        nonlocal woken
        await outbox.wait()
        woken = True

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.testing.wait_all_tasks_blocked()
            assert not woken
            nudge()
    assert woken


async def test_a_writer_sleeps_until_an_item_comes_a_wake_or_a_close() -> None:
    outbox = Outbox(8)
    outbox.send_nowait(Relayed("before"))
    with trio.fail_after(1):
        await outbox.wait()  # something is queued: no sleep
    assert outbox.take(8) == [Relayed("before")]
    await sleeps_until(outbox, lambda: outbox.send_nowait(Relayed("x")))
    assert outbox.take(8) == [Relayed("x")]
    await sleeps_until(outbox, outbox.wake)
    await sleeps_until(outbox, outbox.close)


async def test_a_sleeping_writer_can_be_cancelled_and_sleep_again() -> None:
    outbox = Outbox(8)
    with trio.move_on_after(0.01):
        await outbox.wait()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(outbox.wait)
        await trio.testing.wait_all_tasks_blocked()
        outbox.send_nowait(Relayed("x"))
    assert outbox.take(8) == [Relayed("x")]


async def test_send_waits_for_room_and_fails_once_the_writer_is_gone() -> None:
    outbox = Outbox(1)
    outbox.send_nowait(Relayed("a"))
    sent: list[str] = []

    async def catch_up(name: str) -> None:
        await outbox.send(Relayed(name))
        sent.append(name)

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(catch_up, "b")
            await trio.testing.wait_all_tasks_blocked()
            assert sent == []
            assert outbox.take(1) == [Relayed("a")]
        assert sent == ["b"]
        assert outbox.take(1) == [Relayed("b")]

        outbox.send_nowait(Relayed("c"))
        with pytest.RaisesGroup(trio.BrokenResourceError):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(catch_up, "d")
                await trio.testing.wait_all_tasks_blocked()
                outbox.close_receiver()
    assert sent == ["b"]


async def test_a_flag_wakes_its_waiters_and_makes_no_event_when_set_first() -> None:
    flag = Flag()
    flag.set()
    assert flag.is_set()
    assert flag._event is None
    with trio.fail_after(1):
        await flag.wait()

    flag = Flag()
    woken: list[int] = []

    async def waiter(number: int) -> None:
        await flag.wait()
        woken.append(number)

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter, 1)
            nursery.start_soon(waiter, 2)
            await trio.testing.wait_all_tasks_blocked()
            assert woken == []
            flag.set()
    assert sorted(woken) == [1, 2]
