"""An in-memory event store: same contract as the durable ones, nothing survives the process."""

from collections.abc import Sequence

import attrs
import trio

from actors.ids import random_id
from actors.store.base import NewEvent, StoredEvent, VersionConflict


@attrs.define
class _Log:
    """One conversation's events as parallel lists of plain values (index = version - 1).

    Not a StoredEvent per event: those would be objects the garbage collector walks for as
    long as the process lives; ints, strings and bytes in a list are not.
    """

    positions: list[int] = attrs.field(factory=list)
    kinds: list[str] = attrs.field(factory=list)
    data: list[bytes] = attrs.field(factory=list)


class MemoryEventStore:
    """Keeps every conversation's events in memory; for demos and tests."""

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._position = 0
        self._log_id = random_id("log_")

    @property
    def log_id(self) -> str:
        return self._log_id

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        # A checkpoint, as the durable stores' appends are: callers may rely on it to let
        # other tasks run between batches.
        await trio.lowlevel.checkpoint()
        log = self._logs.get(conversation_id)
        if log is None:
            log = self._logs[conversation_id] = _Log()
        if len(log.positions) != expected_version:
            raise VersionConflict(conversation_id, expected_version, len(log.positions))
        for event in events:
            self._position += 1
            log.positions.append(self._position)
            log.kinds.append(event.kind)
            log.data.append(event.data)
        return len(log.positions)

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        log = self._logs.get(conversation_id)
        if log is None:
            return []
        start = max(after_version, 0)
        end = min(start + max(limit, 0), len(log.positions))
        return [
            StoredEvent(conversation_id, index + 1, log.positions[index], log.kinds[index], data)
            for index, data in enumerate(log.data[start:end], start=start)
        ]

    async def current_version(self, conversation_id: str) -> int:
        log = self._logs.get(conversation_id)
        return 0 if log is None else len(log.positions)
