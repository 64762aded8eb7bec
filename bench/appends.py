"""Durable append throughput: many busy conversations appending to one SQLite log.

``python -m bench.appends [--conversations 100] [--seconds 5] [--batch 1]`` runs the real
SqliteEventStore (WAL, synchronous=FULL, group commit) with one task per conversation appending
as fast as its previous append becomes durable, and reports appends/s, commits/s and appends per
commit, side by side with one-append-per-transaction on the same disk so the ratio shows what
group commit buys. No network: this isolates the log from the transport.
"""

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import trio

from actors.store.base import NewEvent
from actors.store.sqlite import SqliteEventStore, open_sqlite_store

PAYLOAD = b'{"item":{"id":"item_0123456789012345678901","type":"message"},"previous_item_id":null}'


async def group_commit(path: Path, conversations: int, seconds: float) -> tuple[int, int]:
    """Return (appends, commits) made in ``seconds`` by ``conversations`` concurrent writers."""
    async with open_sqlite_store(path) as store:
        assert isinstance(store, SqliteEventStore)

        async def writer(name: str) -> None:
            version = 0
            while True:
                version = await store.append(name, version, [NewEvent("item.created", PAYLOAD)])

        with trio.move_on_after(seconds):
            async with trio.open_nursery() as nursery:
                for n in range(conversations):
                    nursery.start_soon(writer, f"conv-{n}")
        return store.appends, store.commits


def one_per_transaction(path: Path, seconds: float) -> int:
    """Appends in ``seconds`` when every append is its own durable transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE events (conversation_id TEXT, version INTEGER, data BLOB)")
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO events VALUES ('c', ?, ?)", (count, PAYLOAD))
        connection.execute("COMMIT")
        count += 1
    connection.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        print(f"group commit: {args.conversations} conversations for {args.seconds:g} s ...")
        appends, commits = trio.run(
            group_commit, Path(directory) / "group.sqlite3", args.conversations, args.seconds
        )
        print(f"one append per transaction for {args.seconds:g} s ...")
        single = one_per_transaction(Path(directory) / "single.sqlite3", args.seconds)
    rate, single_rate = appends / args.seconds, single / args.seconds
    print(f"group commit:        {rate:10,.0f} appends/s  {commits / args.seconds:8,.0f} commits/s")
    print(f"  appends per commit: {appends / max(commits, 1):9.1f}")
    print(f"one per transaction: {single_rate:10,.0f} appends/s")
    print(f"ratio:               {rate / max(single_rate, 1):10.1f}x")


if __name__ == "__main__":
    main()
