"""Store URLs (``memory://``, ``sqlite:///PATH``) and the default store location."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from actors.store.base import EventStore, StoreUnavailable
from actors.store.memory import MemoryEventStore
from actors.store.sqlite import open_sqlite_store

SQLITE_PREFIX = "sqlite:///"
MEMORY_URL = "memory://"
DEFAULT_FILE_NAME = "chorus.sqlite3"


class StoreURLError(ValueError):
    """The store URL names no store Chorus can open."""


def default_data_dir() -> Path:
    """``$CHORUS_DATA_DIR``, else ``$XDG_DATA_HOME/chorus``, else ``~/.local/share/chorus``."""
    if explicit := os.environ.get("CHORUS_DATA_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "chorus"


def default_store_url() -> str:
    return SQLITE_PREFIX + str(default_data_dir() / DEFAULT_FILE_NAME)


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///PATH`` URL names (``sqlite:////abs`` or ``sqlite:///rel``)."""
    path = url.removeprefix(SQLITE_PREFIX)
    if not path:
        raise StoreURLError(f"store URL {url!r} names no file; use sqlite:///PATH/TO/FILE")
    return Path(path)


def check_store_url(url: str) -> None:
    """Raise StoreURLError unless ``url`` has a form Chorus knows."""
    if url == MEMORY_URL:
        return
    if url.startswith(SQLITE_PREFIX):
        sqlite_path(url)
        return
    raise StoreURLError(
        f"unsupported store URL {url!r}: use {MEMORY_URL} or {SQLITE_PREFIX}PATH/TO/FILE"
    )


@asynccontextmanager
async def open_store(url: str, *, create_dirs: bool = False) -> AsyncIterator[EventStore]:
    """Open the store ``url`` names for the duration of the block.

    ``create_dirs`` creates a missing parent directory (used for the default data directory).
    Raises StoreURLError for an unknown URL form and StoreUnavailable when it cannot be opened.
    """
    check_store_url(url)
    if url == MEMORY_URL:
        yield MemoryEventStore()
        return
    path = sqlite_path(url)
    if create_dirs:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"cannot create data directory {str(path.parent)!r}: {exc}"
            raise StoreUnavailable(message) from exc
    if not path.parent.is_dir():
        raise StoreUnavailable(
            f"directory {str(path.parent)!r} for the SQLite store does not exist"
        )
    async with open_sqlite_store(path) as store:
        yield store
