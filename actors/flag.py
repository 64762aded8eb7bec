"""An event made only when a task has to wait for it."""

import trio


class Flag:
    """A ``trio.Event`` that makes the event only for a task that has to wait for it.

    Most flags are set before anyone waits (a subscriber goes live before its client's first
    command), so most connections never pay for an event and its parking lot.
    """

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: trio.Event | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._set:
            await trio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()
