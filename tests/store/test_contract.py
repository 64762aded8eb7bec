"""One contract for the EventStore protocol, run against every adapter."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import trio

from actors.store import EventStore, NewEvent, StoreUnavailable, StoreURLError, VersionConflict
from actors.store.url import open_store

StoreFactory = Callable[[], AbstractAsyncContextManager[EventStore]]


@pytest.fixture(params=["memory", "sqlite"])
def open_adapter(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'log.sqlite3'}"
    return lambda: open_store(url)


@pytest.fixture
async def store(open_adapter: StoreFactory) -> AsyncIterator[EventStore]:
    async with open_adapter() as opened:
        yield opened


def events(*names: str) -> list[NewEvent]:
    return [NewEvent("test.event", name.encode()) for name in names]


async def test_append_then_read_in_order(store: EventStore) -> None:
    assert await store.append("c1", 0, events("a", "b")) == 2
    assert await store.append("c1", 2, events("c")) == 3
    read = await store.read("c1")
    assert [(e.version, e.data) for e in read] == [(1, b"a"), (2, b"b"), (3, b"c")]
    assert all(e.conversation_id == "c1" and e.kind == "test.event" for e in read)
    assert await store.current_version("c1") == 3


async def test_conversations_are_independent(store: EventStore) -> None:
    await store.append("c1", 0, events("a"))
    await store.append("c2", 0, events("x", "y"))
    assert [e.data for e in await store.read("c2")] == [b"x", b"y"]
    assert await store.current_version("c1") == 1
    assert await store.current_version("nobody") == 0
    assert await store.read("nobody") == []


async def test_positions_give_one_stable_order_across_conversations(store: EventStore) -> None:
    await store.append("c1", 0, events("a"))
    await store.append("c2", 0, events("b"))
    await store.append("c1", 1, events("c"))
    positions = [e.position for e in await store.read("c1")] + [
        e.position for e in await store.read("c2")
    ]
    assert len(set(positions)) == 3
    first_c1, second_c1 = (e.position for e in await store.read("c1"))
    (only_c2,) = (e.position for e in await store.read("c2"))
    assert first_c1 < only_c2 < second_c1


async def test_read_starts_after_a_version_and_is_bounded(store: EventStore) -> None:
    await store.append("c", 0, events(*"abcdefg"))
    page = await store.read("c", after_version=2, limit=3)
    assert [e.version for e in page] == [3, 4, 5]
    assert await store.read("c", after_version=7) == []


@pytest.mark.parametrize("expected", [0, 1, 5])
async def test_wrong_expected_version_is_a_conflict_and_writes_nothing(
    store: EventStore, expected: int
) -> None:
    await store.append("c", 0, events("a", "b"))
    with pytest.raises(VersionConflict) as raised:
        await store.append("c", expected, events("z"))
    assert (raised.value.expected, raised.value.actual) == (expected, 2)
    assert [e.data for e in await store.read("c")] == [b"a", b"b"]


async def test_concurrent_appends_at_the_same_version_let_exactly_one_win(
    store: EventStore,
) -> None:
    outcomes: list[str] = []

    async def attempt(name: str) -> None:
        try:
            await store.append("c", 0, events(name))
        except VersionConflict:
            outcomes.append("conflict")
        else:
            outcomes.append("ok")

    async with trio.open_nursery() as nursery:
        for name in ("one", "two", "three"):
            nursery.start_soon(attempt, name)
    assert sorted(outcomes) == ["conflict", "conflict", "ok"]
    assert await store.current_version("c") == 1


async def test_many_conversations_append_concurrently(store: EventStore) -> None:
    async def writer(conversation: int) -> None:
        for version in range(10):
            await store.append(f"c{conversation}", version, events(f"{conversation}.{version}"))

    async with trio.open_nursery() as nursery:
        for conversation in range(20):
            nursery.start_soon(writer, conversation)
    for conversation in range(20):
        read = await store.read(f"c{conversation}")
        assert [e.data.decode() for e in read] == [f"{conversation}.{v}" for v in range(10)]


async def test_reopen_keeps_everything_of_a_durable_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    async with open_store(url) as store:
        await store.append("c", 0, events("a", "b"))
        log_id = store.log_id
    async with open_store(url) as store:
        assert [e.data for e in await store.read("c")] == [b"a", b"b"]
        assert store.log_id == log_id
        assert await store.append("c", 2, events("c")) == 3


async def test_a_new_log_has_a_new_id(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'one.sqlite3'}") as one:
        first = one.log_id
    async with open_store(f"sqlite:///{tmp_path / 'two.sqlite3'}") as two:
        assert two.log_id != first


@pytest.mark.parametrize("url", ["postgres://x", "sqlite:///", "memory", "", "file:///tmp/x"])
async def test_unknown_store_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreURLError):
        async with open_store(url):
            pass


async def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="does not exist"):
        async with open_store(f"sqlite:///{tmp_path / 'missing' / 'log.sqlite3'}"):
            pass


async def test_sqlite_default_location_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'log.sqlite3'}"
    async with open_store(url, create_dirs=True) as store:
        await store.append("c", 0, events("a"))
    assert (tmp_path / "new" / "dir" / "log.sqlite3").exists()
