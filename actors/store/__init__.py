"""Event stores: the durable, ordered log of every conversation."""

from actors.store.base import (
    EventStore,
    NewEvent,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from actors.store.url import StoreURLError, open_store

__all__ = [
    "EventStore",
    "NewEvent",
    "StoreError",
    "StoreURLError",
    "StoreUnavailable",
    "StoredEvent",
    "VersionConflict",
    "open_store",
]
