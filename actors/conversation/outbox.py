"""A connection's bounded outbound queue, lighter than a trio memory channel (idle connections)."""

import attrs
import trio

from actors.conversation.messages import Outbound


@attrs.frozen
class OutboxStatistics:
    current_buffer_used: int
    max_buffer_size: int


class Outbox:
    """A connection's bounded outbound queue, lighter than a trio memory channel.

    The actor (or a catch-up task) puts items in; the connection's writer takes them out in
    batches and in between sleeps in ``wait``, parked without a channel or an event: an idle
    connection's queue is a list and a few fields. Errors follow trio's channels:
    ``send_nowait`` raises WouldBlock when full, ClosedResourceError after ``close`` and
    BrokenResourceError after ``close_receiver``.
    """

    __slots__ = ("_closed", "_items", "_receiver_closed", "_room", "_sleeper", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: list[Outbound] = []
        self._closed = False
        self._receiver_closed = False
        # The writer while it sleeps in ``wait``.
        self._sleeper: trio.lowlevel.Task | None = None
        # Set when a full queue has room again: only a catch-up task ever waits for it.
        self._room: trio.Event | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        """Closed by the sender, and every item taken."""
        return self._closed and not self._items

    def send_nowait(self, item: Outbound) -> None:
        if self._closed:
            raise trio.ClosedResourceError
        if self._receiver_closed:
            raise trio.BrokenResourceError
        if len(self._items) >= self.capacity:
            raise trio.WouldBlock
        self._items.append(item)
        self.wake()

    async def send(self, item: Outbound) -> None:
        """Put ``item`` in, waiting for room; raises like ``send_nowait`` once closed."""
        await trio.lowlevel.checkpoint()
        while len(self._items) >= self.capacity and not self._closed and not self._receiver_closed:
            if self._room is None:
                self._room = trio.Event()
            await self._room.wait()
        self.send_nowait(item)

    def close(self) -> None:
        """No more items (the sender's side); the writer still takes those already in."""
        self._closed = True
        self.wake()
        self._made_room()

    def close_receiver(self) -> None:
        """The writer is gone: drop what is queued; putting more raises BrokenResourceError."""
        self._receiver_closed = True
        self._items.clear()
        self._made_room()

    def statistics(self) -> OutboxStatistics:
        return OutboxStatistics(len(self._items), self.capacity)

    def take(self, limit: int) -> list[Outbound]:
        """At most ``limit`` items, oldest first, without waiting ([] when none is queued)."""
        items = self._items
        if len(items) <= limit:
            self._items = []
        else:
            items, self._items = items[:limit], items[limit:]
        if items:
            self._made_room()
        return items

    async def wait(self) -> None:
        """Return once an item is queued, the queue is closed, or ``wake`` is called.

        One writer at a time; cancelling it is safe (nothing is lost).
        """
        if self._items or self._closed:
            await trio.lowlevel.checkpoint()
            return
        assert self._sleeper is None, "one writer per queue"
        self._sleeper = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def wake(self) -> None:
        """Let the writer sleeping in ``wait`` (if any) go on."""
        if self._sleeper is not None:
            trio.lowlevel.reschedule(self._sleeper)
            self._sleeper = None

    def _abort_wait(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._sleeper = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _made_room(self) -> None:
        if self._room is not None:
            self._room.set()
            self._room = None
