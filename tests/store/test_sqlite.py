"""SQLite specifics: durability settings and group commit."""

import sqlite3
from pathlib import Path

import trio

from actors.store import NewEvent
from actors.store.sqlite import SqliteEventStore, open_sqlite_store


async def test_wal_and_full_synchronous(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    async with open_sqlite_store(path) as store:
        await store.append("c", 0, [NewEvent("k", b"x")])
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


async def test_appends_from_many_conversations_share_commits(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)

        async def writer(conversation: int) -> None:
            for version in range(5):
                await store.append(f"c{conversation}", version, [NewEvent("k", b"x")])

        async with trio.open_nursery() as nursery:
            for conversation in range(50):
                nursery.start_soon(writer, conversation)
        assert store.appends == 250
        # Group commit: far fewer transactions than appends.
        assert store.commits < store.appends / 5
