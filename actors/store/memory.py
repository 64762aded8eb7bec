"""An in-memory event store: same contract as the durable ones, nothing survives the process."""

from collections.abc import Sequence

from actors.ids import random_id
from actors.store.base import NewEvent, StoredEvent, VersionConflict


class MemoryEventStore:
    """Keeps every conversation's events in a list; for demos and tests."""

    def __init__(self) -> None:
        self._logs: dict[str, list[StoredEvent]] = {}
        self._position = 0
        self._log_id = random_id("log_")

    @property
    def log_id(self) -> str:
        return self._log_id

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        log = self._logs.setdefault(conversation_id, [])
        if len(log) != expected_version:
            raise VersionConflict(conversation_id, expected_version, len(log))
        for event in events:
            self._position += 1
            log.append(
                StoredEvent(conversation_id, len(log) + 1, self._position, event.kind, event.data)
            )
        return len(log)

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        log = self._logs.get(conversation_id, [])
        start = max(after_version, 0)
        return log[start : start + limit]

    async def current_version(self, conversation_id: str) -> int:
        return len(self._logs.get(conversation_id, []))
