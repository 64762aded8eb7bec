"""Real server processes: kill -9 under load loses nothing acknowledged, SIGTERM is clean."""

import signal
from pathlib import Path
from typing import Any

import attrs
import orjson
import trio
from trio_websocket import ConnectionClosed

from actors.conversation import core
from actors.conversation.records import from_record
from actors.store.sqlite import open_sqlite_store
from tests.helpers import Client, close_code, connect, message
from tests.process import server_process

CONVERSATIONS = ["crash-a", "crash-b", "crash-c"]
WRITERS_PER_CONVERSATION = 2
WINDOW = 16  # creates a writer has sent but not yet seen acknowledged
ACKS_BEFORE_KILL = 600


@attrs.define
class Seen:
    """What one client saw of its conversation, in order."""

    conversation: str
    writer: str
    broadcasts: list[tuple[str, str | None]] = attrs.field(factory=list)
    own_acks: list[str] = attrs.field(factory=list)


def create_event(writer: str, n: int, acked: list[str]) -> dict[str, Any]:
    """Mostly appends; every 7th goes to the front and every 5th after an acknowledged item."""
    event: dict[str, Any] = {"type": "conversation.item.create", "item": message(f"{writer}-{n}")}
    if n % 7 == 3:
        event["previous_item_id"] = "root"
    elif n % 5 == 4 and acked:
        event["previous_item_id"] = acked[len(acked) // 2]
    return event


@attrs.define
class Load:
    """Shared by the writers: the start signal and the acknowledgement count to reach."""

    target: int
    go: trio.Event = attrs.field(factory=trio.Event)
    reached: trio.Event = attrs.field(factory=trio.Event)
    acks: int = 0

    def acknowledged(self) -> None:
        self.acks += 1
        if self.acks >= self.target:
            self.reached.set()


async def drive_writer(client: Client, seen: Seen, load: Load) -> None:
    """Send creates as fast as acks allow; record every broadcast until the connection dies."""
    window = trio.Semaphore(WINDOW)

    async def send_forever() -> None:
        await load.go.wait()
        n = 0
        while True:
            await window.acquire()
            await client.send(create_event(seen.writer, n, seen.own_acks))
            n += 1

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_forever)
            while True:
                frame = await client.websocket.get_message()
                event = orjson.loads(frame)
                assert event["type"] == "conversation.item.created", event
                item_id = event["item"]["id"]
                seen.broadcasts.append((item_id, event["previous_item_id"]))
                if item_id.startswith(seen.writer + "-"):
                    seen.own_acks.append(item_id)
                    load.acknowledged()
                    window.release()
    except* (ConnectionClosed, trio.BrokenResourceError):
        pass


async def read_log(path: Path, conversation: str) -> list[core.Event]:
    async with open_sqlite_store(path) as store:
        records = await store.read(conversation, 0, 1_000_000)
    assert [r.version for r in records] == list(range(1, len(records) + 1))
    return [from_record(record) for record in records]  # raises on a half-written record


async def test_kill_9_under_load_then_restart_keeps_every_acknowledged_item(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chorus.sqlite3"
    store_flags = ("--store", f"sqlite:///{db}", "--rate-limit", "0")
    seen: list[Seen] = []
    load = Load(ACKS_BEFORE_KILL)
    async with server_process(*store_flags) as server, trio.open_nursery() as connections:
        clients = []
        for conversation in CONVERSATIONS:
            for index in range(WRITERS_PER_CONVERSATION):
                url = f"{server.url}?conversation={conversation}"
                clients.append(await _connect_raw(connections, url))
                seen.append(Seen(conversation, f"{conversation}-w{index}"))
        with trio.fail_after(30):
            async with trio.open_nursery() as writers:
                for client, record in zip(clients, seen, strict=True):
                    writers.start_soon(drive_writer, client, record, load)
                load.go.set()
                await load.reached.wait()
                server.signal(signal.SIGKILL)  # writers are mid-stream: a crash under load
                assert await server.wait() == -signal.SIGKILL
            # Every writer has seen its connection die.
        connections.cancel_scope.cancel()
    assert sum(len(s.own_acks) for s in seen) >= ACKS_BEFORE_KILL

    # The log, read through the store API and replayed by the core: complete and in order.
    logs: dict[str, list[core.Event]] = {}
    for conversation in CONVERSATIONS:
        logs[conversation] = events = await read_log(db, conversation)
        logged = [
            (event.item.id, event.previous_item_id)
            for event in events
            if isinstance(event, core.ItemCreated)
        ]
        state = core.replay(events)
        for record in (s for s in seen if s.conversation == conversation):
            # Everything a client saw acknowledged is in the log, in the order it saw it.
            assert record.broadcasts == logged[: len(record.broadcasts)]
            assert set(record.own_acks) <= set(state.nodes)

    # The restarted server knows every acknowledged item: re-sending one is a duplicate id.
    async with server_process(*store_flags) as server:
        for record in seen:
            last = record.own_acks[-1]
            # after=N: start at the end of the log, skipping the history replay on join.
            position = len(logs[record.conversation])
            url = f"{server.url}?conversation={record.conversation}&after={position}"
            async with connect(url) as client:
                await client.send(
                    {"type": "conversation.item.create", "event_id": "retry", "item": message(last)}
                )
                error = await client.receive_type("error")
                assert error["error"]["code"] == "item_create_duplicate_item_id"
                assert error["error"]["event_id"] == "retry"
                await client.send({"type": "conversation.item.retrieve", "item_id": last})
                retrieved = await client.receive_type("conversation.item.retrieved")
                assert retrieved["item"]["id"] == last
        server.signal(signal.SIGTERM)
        assert await server.wait() == 0
    for conversation in CONVERSATIONS:  # the retries changed nothing
        assert await read_log(db, conversation) == logs[conversation]


async def _connect_raw(nursery: trio.Nursery, url: str) -> Client:
    """Connect in ``nursery`` (the connection lives until the nursery ends); skip the greeting."""
    ready = trio.Event()
    holder: list[Client] = []

    async def hold() -> None:
        async with connect(url) as client:
            holder.append(client)
            ready.set()
            await trio.sleep_forever()

    nursery.start_soon(hold)
    with trio.fail_after(10):
        await ready.wait()
    return holder[0]


async def test_sigterm_closes_clients_with_1001_and_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "chorus.sqlite3"
    flags = ("--store", f"sqlite:///{db}", "--rate-limit", "0", "--grace", "5")
    async with server_process(*flags) as server, trio.open_nursery() as nursery:
        clients = [await _connect_raw(nursery, f"{server.url}?conversation=term") for _ in range(3)]
        for n in range(50):  # in flight when the signal lands
            await clients[0].send({"type": "conversation.item.create", "item": message(f"t{n}")})
        started = trio.current_time()
        server.signal(signal.SIGTERM)
        codes = [await close_code(client) for client in clients]
        assert await server.wait() == 0
        elapsed = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert codes == [1001, 1001, 1001]
    assert elapsed < 5
    events = await read_log(db, "term")
    # Whatever was appended is whole and in send order (a prefix of what was sent).
    ids = [event.item.id for event in events if isinstance(event, core.ItemCreated)]
    assert ids == [f"t{n}" for n in range(len(ids))]
