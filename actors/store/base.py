"""The EventStore protocol every adapter implements, and the values and errors it speaks in.

Designed for several server processes sharing one log: appends name the version they expect the
conversation to be at (optimistic concurrency), reads start after a version and come in bounded
batches, and every event also has a store-wide ``position`` that gives all events one stable order.
"""

from collections.abc import Sequence
from typing import Protocol

import attrs


@attrs.frozen
class NewEvent:
    """An event about to be appended: its kind (for humans and filters) and its serialized body."""

    kind: str
    data: bytes


@attrs.frozen
class StoredEvent:
    """An event as the log holds it.

    ``version`` is its 1-based place in its conversation; ``position`` its place in the whole store.
    """

    conversation_id: str
    version: int
    position: int
    kind: str
    data: bytes


class StoreError(Exception):
    """Base class of every error an event store raises."""


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached (missing directory, permissions, server down)."""


class VersionConflict(StoreError):
    """The conversation was not at the expected version: another writer got there first."""

    def __init__(self, conversation_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"conversation {conversation_id!r} is at version {actual}, not {expected} as expected"
        )
        self.conversation_id = conversation_id
        self.expected = expected
        self.actual = actual


class EventStore(Protocol):
    """An append-only log of events per conversation.

    ``log_id`` names this log; it changes when the log is recreated, so a client holding a
    position from another log can be told that it cannot resume.
    """

    @property
    def log_id(self) -> str: ...

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        """Append ``events`` durably after ``expected_version``; return the new version.

        Raises VersionConflict (nothing is written) when the conversation is at another version.
        Returns only once the events are durable.
        """
        ...

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        """Return up to ``limit`` events with version > ``after_version``, in version order."""
        ...

    async def current_version(self, conversation_id: str) -> int:
        """Return the version of the last event of the conversation (0 when it has none)."""
        ...
