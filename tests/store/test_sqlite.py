"""SQLite specifics: durability settings and group commit."""

import sqlite3
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.store import NewEvent, StoreUnavailable, VersionConflict
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


async def commit_steps(store: SqliteEventStore, conversations: list[str], version: int) -> int:
    """SQLite virtual-machine steps (in hundreds) of one commit appending to ``conversations``."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    store._writer.set_progress_handler(count, 100)
    try:
        async with trio.open_nursery() as nursery:
            for conversation in conversations:
                nursery.start_soon(store.append, conversation, version, [NewEvent("k", b"x")])
    finally:
        store._writer.set_progress_handler(None, 0)
    return steps


async def test_a_commit_costs_the_same_however_long_the_conversations_are(
    tmp_path: Path,
) -> None:
    # Checking versions must seek the end of each conversation, not walk all its events.
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)
        short, long = ["s1", "s2", "s3"], ["l1", "l2", "l3"]
        for conversation in short:
            await store.append(conversation, 0, [NewEvent("k", b"x")] * 10)
        for conversation in long:
            await store.append(conversation, 0, [NewEvent("k", b"x")] * 5_000)
        short_steps = await commit_steps(store, short, 10)
        long_steps = await commit_steps(store, long, 5_000)
        assert await store.current_version("l1") == 5_001
    assert long_steps <= 2 * short_steps + 5, (short_steps, long_steps)


async def test_one_commit_takes_appends_to_many_conversations(tmp_path: Path) -> None:
    # More conversations in one version check than SQLite allows terms in a compound SELECT.
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)
        async with trio.open_nursery() as nursery:
            for conversation in range(600):
                nursery.start_soon(store.append, f"c{conversation}", 0, [NewEvent("k", b"x")])
        assert store.appends == 600
        assert store.commits < 10
        assert await store.current_version("c599") == 1


async def test_an_append_by_another_store_on_the_same_file_is_a_conflict_not_an_overwrite(
    tmp_path: Path,
) -> None:
    # Each store remembers the versions it committed; another process's appends make that stale.
    path = tmp_path / "shared.sqlite3"
    async with open_sqlite_store(path) as first, open_sqlite_store(path) as second:
        assert await first.append("c", 0, [NewEvent("k", b"1")]) == 1
        assert await second.append("c", 1, [NewEvent("k", b"2")]) == 2
        with pytest.raises(VersionConflict) as conflict:
            await first.append("c", 1, [NewEvent("k", b"lost")])
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)
        # What it learnt is right: following on from the other store's append works.
        assert await first.append("c", 2, [NewEvent("k", b"3")]) == 3
        assert [e.data for e in await second.read("c")] == [b"1", b"2", b"3"]


async def test_a_batch_with_several_appends_to_one_conversation_commits_them_in_order(
    tmp_path: Path,
) -> None:
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)
        await store.append("c", 0, [NewEvent("k", b"0")])
        results: list[int | str] = []

        async def append(expected: int, data: bytes) -> None:
            try:
                results.append(await store.append("c", expected, [NewEvent("k", data)]))
            except VersionConflict:
                results.append("conflict")

        async with trio.open_nursery() as nursery:  # queued in this order, as an actor pipelines
            nursery.start_soon(append, 1, b"1")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(append, 2, b"2")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(append, 2, b"twice")
        assert sorted(map(str, results)) == ["2", "3", "conflict"]
        assert [e.data for e in await store.read("c")] == [b"0", b"1", b"2"]


async def test_a_commit_of_known_versions_is_one_statement(tmp_path: Path) -> None:
    # The first append to a conversation looks its version up inside an explicit transaction;
    # later ones, whose versions the store knows, are a single self-committing INSERT.
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)
        statements: list[str] = []
        store._writer.set_trace_callback(lambda sql: statements.append(sql.split()[0]))
        await store.append("c", 0, [NewEvent("k", b"0")])
        first, statements[:] = list(statements), []
        await store.append("c", 1, [NewEvent("k", b"1"), NewEvent("k", b"2")])
        store._writer.set_trace_callback(None)
        assert first == ["BEGIN", "WITH", "INSERT", "COMMIT"]
        assert statements == ["INSERT"]
        assert [e.data for e in await store.read("c")] == [b"0", b"1", b"2"]


async def test_appends_queued_when_the_store_closes_are_committed(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    versions: list[int] = []
    blocker = sqlite3.connect(path, isolation_level=None)

    async def append(store: SqliteEventStore, conversation: str) -> None:
        versions.append(await store.append(conversation, 0, [NewEvent("k", b"x")]))

    async def unblock_soon() -> None:
        await trio.sleep(0.2)
        blocker.execute("ROLLBACK")

    # A drain that dropped appends would leave them waiting for ever: fail instead.
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, open_sqlite_store(path) as store:
            # Another connection holds the write lock, so the appends stay queued while the store
            # closes; the lock goes once the close has begun.
            blocker.execute("BEGIN IMMEDIATE")
            for conversation in range(20):
                nursery.start_soon(append, store, f"c{conversation}")
            await trio.testing.wait_all_tasks_blocked()
            assert versions == []
            nursery.start_soon(unblock_soon)
    blocker.close()
    assert versions == [1] * 20
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.append("late", 0, [NewEvent("k", b"x")])
    async with open_sqlite_store(path) as reopened:
        assert [await reopened.current_version(f"c{n}") for n in range(20)] == [1] * 20


async def test_an_unexpected_failure_in_a_commit_fails_that_batch_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store:
        assert isinstance(store, SqliteEventStore)
        original = SqliteEventStore._commit_sync

        def broken(self: SqliteEventStore, batch: list[object]) -> None:
            raise RuntimeError("a bug in the committer")

        monkeypatch.setattr(SqliteEventStore, "_commit_sync", broken)
        with pytest.raises(StoreUnavailable, match="a bug in the committer"):
            await store.append("c", 0, [NewEvent("k", b"lost")])
        monkeypatch.setattr(SqliteEventStore, "_commit_sync", original)
        assert await store.append("c", 0, [NewEvent("k", b"kept")]) == 1
        assert [e.data for e in await store.read("c")] == [b"kept"]
