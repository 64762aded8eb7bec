"""A durable event store in one SQLite file, with group commit on its own writer thread.

Appends from every conversation queue up for one writer thread; it takes all that are waiting,
writes them in one transaction (WAL, ``synchronous=FULL``) and has each caller woken only once
the transaction is durable, then starts on what queued meanwhile. One fsync then covers many
appends, so durability does not cost throughput. Reads use their own connection, which WAL lets
run beside the writer.
"""

import contextlib
import functools
import queue
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from actors.ids import random_id
from actors.store.base import NewEvent, StoredEvent, StoreUnavailable, VersionConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (conversation_id, version)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Enough to cover every conversation's pending append at once under heavy load, small enough
# that one transaction stays short.
MAX_APPENDS_PER_COMMIT = 1024
# Appends queued or being committed at once. Each actor has at most one in flight, so this is
# only reached with more busy conversations than that; their actors then wait for room, which
# is the backpressure we want.
MAX_PENDING_APPENDS = 4 * MAX_APPENDS_PER_COMMIT
# Events per INSERT statement (4 parameters each, well within SQLite's limits).
ROWS_PER_INSERT = 500


@attrs.define
class _PendingAppend:
    conversation_id: str
    expected_version: int
    events: Sequence[NewEvent]
    done: trio.Event = attrs.field(factory=trio.Event)
    new_version: int = 0
    error: Exception | None = None


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so group commit is explicit.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def _open_writer(path: Path) -> tuple[sqlite3.Connection, str]:
    connection = _connect(path)
    connection.executescript(SCHEMA)
    row = connection.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()
    if row is None:
        log_id = random_id("log_")
        connection.execute("INSERT INTO meta (key, value) VALUES ('log_id', ?)", (log_id,))
        return connection, log_id
    return connection, str(row[0])


class SqliteEventStore:
    """The EventStore protocol on a SQLite file; create it with ``open_sqlite_store``."""

    def __init__(self, writer: sqlite3.Connection, reader: sqlite3.Connection, log_id: str) -> None:
        self._writer = writer
        self._reader = reader
        self._log_id = log_id
        # Appends for the writer thread, in arrival order; ``None`` tells it to stop.
        self._queue: queue.SimpleQueue[_PendingAppend | None] = queue.SimpleQueue()
        self._room = trio.Semaphore(MAX_PENDING_APPENDS)
        self._closed = False
        # sqlite3 connections must not be used by two threads at once: the writer connection
        # belongs to the writer thread, the reader to one reader thread at a time.
        self._reader_slot = trio.CapacityLimiter(1)
        # The last version of each conversation this store committed or read: the version check
        # needs no query for them (see ``_commit_checked``). The writer thread's alone.
        self._versions: dict[str, int] = {}
        self.commits = 0
        self.appends = 0

    @property
    def log_id(self) -> str:
        return self._log_id

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        if self._closed:
            raise StoreUnavailable("the SQLite store is closed")
        try:
            self._room.acquire_nowait()
        except trio.WouldBlock:
            await self._room.acquire()
        pending = _PendingAppend(conversation_id, expected_version, events)
        self._queue.put(pending)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.new_version

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        return await trio.to_thread.run_sync(
            self._read_sync, conversation_id, after_version, limit, limiter=self._reader_slot
        )

    async def current_version(self, conversation_id: str) -> int:
        return await trio.to_thread.run_sync(
            self._version_sync, self._reader, conversation_id, limiter=self._reader_slot
        )

    def _read_sync(self, conversation_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        rows = self._reader.execute(
            "SELECT version, position, kind, data FROM events"
            " WHERE conversation_id = ? AND version > ? ORDER BY version LIMIT ?",
            (conversation_id, after_version, limit),
        ).fetchall()
        return [StoredEvent(conversation_id, v, p, k, bytes(d)) for v, p, k, d in rows]

    @staticmethod
    def _version_sync(connection: sqlite3.Connection, conversation_id: str) -> int:
        row = connection.execute(
            "SELECT MAX(version) FROM events WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()
        return int(row[0] or 0)

    def write_until_stopped(self, token: trio.lowlevel.TrioToken) -> None:
        """The writer thread: commit queued appends in groups until ``stop``.

        It starts the next commit as soon as one is durable, with whatever queued meanwhile, and
        hands finished batches to the event loop without waiting for it: a busy loop no longer
        sits between one commit and the next (at saturation that gap was twice the commit).
        """
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_APPENDS_PER_COMMIT:
                try:
                    pending = self._queue.get_nowait()
                except queue.Empty:
                    break
                if pending is None:
                    stopping = True
                    break
                batch.append(pending)
            try:
                self._commit_sync(batch)
            except Exception as exc:  # a bug must not leave callers waiting forever
                self._fail(batch, exc)
            token.run_sync_soon(self._wake, batch)
            if stopping:
                return

    def _wake(self, batch: list[_PendingAppend]) -> None:
        """On the event loop: the batch's outcome is known; wake its callers, free its room."""
        for pending in batch:
            pending.done.set()
            self._room.release()

    def stop(self) -> None:
        """Refuse new appends; the writer thread commits what is queued, then ends."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def _commit_sync(self, batch: list[_PendingAppend]) -> None:
        # A fixed handful of sqlite3 calls per batch, not a few per append or per row: each call
        # (each row fetched, each statement stepped) releases and retakes the GIL, and while the
        # event loop thread is busy every retake can wait up to a switch interval (5 ms).
        try:
            self._commit_checked(batch, trust_known=True)
        except sqlite3.IntegrityError:
            # Another process appended to one of these conversations since we last looked.
            self._rollback()
            for pending in batch:
                self._versions.pop(pending.conversation_id, None)
                pending.error = None
            try:
                self._commit_checked(batch, trust_known=False)
            except sqlite3.Error as exc:
                self._fail(batch, exc)
        except sqlite3.Error as exc:
            self._fail(batch, exc)

    def _commit_checked(self, batch: list[_PendingAppend], *, trust_known: bool) -> None:
        """Append what matches its expected version, in one transaction; raises sqlite3.Error.

        The last version of each conversation comes from what this store committed or read
        before (``trust_known``), else from the log. A version another process appended since
        makes the insert break the (conversation_id, version) key: IntegrityError.
        """
        connection = self._writer
        known = self._versions if trust_known else {}
        # A conversation is looked up in the log unless every append to it in the batch follows
        # on from the version we know: a mismatch may only mean that what we know is stale.
        following: dict[str, int] = {}
        unknown: set[str] = set()
        for pending in batch:
            conversation_id = pending.conversation_id
            if (
                following.get(conversation_id, known.get(conversation_id))
                != pending.expected_version
            ):
                unknown.add(conversation_id)
            following[conversation_id] = pending.expected_version + len(pending.events)
        versions = {cid: known[cid] for cid in following.keys() - unknown}
        if unknown:
            # The write lock from here on: no other process can append between the look-up
            # and the insert.
            connection.execute("BEGIN IMMEDIATE")
            versions.update(
                (conversation_id, version or 0)
                for conversation_id, version in connection.execute(
                    _versions_query(len(unknown)), list(unknown)
                ).fetchall()
            )
        rows: list[str | int | bytes] = []
        for pending in batch:
            actual = versions[pending.conversation_id]
            if actual != pending.expected_version:
                pending.error = VersionConflict(
                    pending.conversation_id, pending.expected_version, actual
                )
                continue
            for offset, event in enumerate(pending.events, start=1):
                rows += (pending.conversation_id, actual + offset, event.kind, event.data)
            pending.new_version = versions[pending.conversation_id] = actual + len(pending.events)
        if not connection.in_transaction and len(rows) <= 4 * ROWS_PER_INSERT:
            # The usual batch, every version known: one INSERT is its own transaction, durable
            # when it returns. One sqlite3 call instead of three: each call gives up and retakes
            # the GIL, and a retake while the event loop runs waits for it (commit p50 at
            # 1,000 creates/s: 0.74 -> 0.63 ms).
            if rows:
                connection.execute(_insert_statement(len(rows) // 4), rows)
        else:
            if not connection.in_transaction:
                connection.execute("BEGIN IMMEDIATE")
            for start in range(0, len(rows), 4 * ROWS_PER_INSERT):
                chunk = rows[start : start + 4 * ROWS_PER_INSERT]
                connection.execute(_insert_statement(len(chunk) // 4), chunk)
            connection.execute("COMMIT")
        self._versions.update(versions)
        self.commits += 1
        self.appends += len(batch)

    def _rollback(self) -> None:
        if self._writer.in_transaction:
            self._writer.execute("ROLLBACK")

    def _fail(self, batch: list[_PendingAppend], exc: Exception) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._rollback()
        failure = StoreUnavailable(f"SQLite commit failed: {exc}")
        for pending in batch:
            pending.error = failure


@functools.lru_cache(maxsize=64)
def _insert_statement(rows: int) -> str:
    """One INSERT of ``rows`` events: one statement to step instead of one per row.

    ``OR ROLLBACK``: a broken key ends the whole transaction, which is what the caller does
    anyway. A plain INSERT of many rows makes SQLite keep a statement journal (a temporary file,
    opened and written on every commit) to undo just that statement: 28 % of a commit's CPU.
    """
    values = ",".join(["(?, ?, ?, ?)"] * rows)
    return f"INSERT OR ROLLBACK INTO events (conversation_id, version, kind, data) VALUES {values}"


def _versions_query(count: int) -> str:
    """The last version of each of ``count`` conversations, in one statement.

    One index seek per conversation: ``MAX(version) ... GROUP BY conversation_id`` over an ``IN``
    list walked every event of each conversation, so commits slowed as conversations grew
    (0.5 s per commit at 100k events each).
    """
    rows = ",".join(["(?)"] * count)
    return (
        f"WITH batch(conversation_id) AS (VALUES {rows}) SELECT conversation_id,"
        " (SELECT MAX(version) FROM events WHERE events.conversation_id = batch.conversation_id)"
        " FROM batch"
    )


@asynccontextmanager
async def open_sqlite_store(path: Path) -> AsyncIterator[SqliteEventStore]:
    """Open (creating if needed) the log at ``path``; the writer thread runs until the block exits.

    Raises StoreUnavailable when the file cannot be opened or created.
    """
    try:
        writer, log_id = await trio.to_thread.run_sync(_open_writer, path)
        reader = await trio.to_thread.run_sync(_connect, path)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open SQLite store at {str(path)!r}: {exc}") from exc
    store = SqliteEventStore(writer, reader, log_id)
    token = trio.lowlevel.current_trio_token()
    try:
        async with trio.open_nursery() as nursery:
            # The writer thread lives as long as the store, owned by this nursery; nothing
            # cancels it, it ends when told to stop, after committing what is queued.
            nursery.start_soon(
                functools.partial(trio.to_thread.run_sync, store.write_until_stopped, token)
            )
            try:
                yield store
            finally:
                store.stop()
    finally:
        writer.close()
        reader.close()
