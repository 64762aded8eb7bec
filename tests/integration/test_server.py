"""Real sockets on 127.0.0.1: the whole server, its errors, and restarts on SQLite."""

from pathlib import Path

import orjson
import pytest
import trio

from tests.helpers import connect, message, raw_handshake, running_server


@pytest.mark.parametrize(
    ("query", "expected_status", "code"),
    [
        ("?conversation=bad%20id", 400, "invalid_conversation_id"),
        ("?conversation=" + "x" * 65, 400, "invalid_conversation_id"),
        ("?conversation=", 400, "invalid_conversation_id"),
        ("?conversation=%C3%A9", 400, "invalid_conversation_id"),
        ("/../elsewhere", 404, "not_found"),
    ],
)
async def test_bad_conversation_ids_are_rejected_before_the_upgrade(
    query: str, expected_status: int, code: str
) -> None:
    async with running_server() as url:
        status, body = await raw_handshake(
            url, "/v1/realtime" + query if query.startswith("?") else query
        )
    assert status == expected_status
    assert orjson.loads(body)["error"]["code"] == code


async def test_every_previous_item_id_form_over_the_wire() -> None:
    async with running_server() as url, connect(url + "?conversation=forms") as client:
        steps: list[tuple[dict[str, str | None], str, str | None]] = [
            ({}, "a", "?"),
            ({"previous_item_id": None}, "b", "a"),
            ({"previous_item_id": ""}, "c", "b"),
            ({"previous_item_id": "root"}, "front", None),
            ({"previous_item_id": "a"}, "after-a", "a"),
        ]
        for extra, item_id, expected_previous in steps:
            await client.send(
                {"type": "conversation.item.create", "item": message(item_id), **extra}
            )
            created = await client.receive_type("conversation.item.created")
            assert created["item"]["id"] == item_id
            assert created["item"]["object"] == "realtime.item"
            assert created["item"]["status"] == "completed"
            if expected_previous != "?":
                assert created["previous_item_id"] == expected_previous
        await client.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "ghost",
                "item": message("z"),
                "event_id": "e1",
            }
        )
        error = await client.receive_type("error")
        assert error["event_id"].startswith("event_")
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "item_create_invalid_previous_item_id",
            "message": "Error adding item: the previous item with id 'ghost' does not exist.",
            "param": "previous_item_id",
            "event_id": "e1",
        }
        # The connection is still open and the refused item was not added.
        await client.send({"type": "conversation.item.retrieve", "item_id": "z"})
        assert (await client.receive_type("error"))["error"][
            "code"
        ] == "item_retrieve_invalid_item_id"


async def test_errors_go_to_the_sender_only() -> None:
    async with (
        running_server() as url,
        connect(url + "?conversation=e") as writer,
        connect(url + "?conversation=e") as other,
    ):
        await writer.send({"type": "conversation.item.create", "item": {"type": "nope"}})
        assert (await writer.receive_type("error"))["error"]["param"] == "item.type"
        await writer.send({"type": "conversation.item.create", "item": message("ok")})
        await writer.receive_type("conversation.item.created")
        # The first thing the other client sees is the create, not the error.
        assert (await other.receive_type("conversation.item.created"))["item"]["id"] == "ok"


async def test_many_clients_see_one_order_under_concurrent_writes() -> None:
    writers, per_writer = 4, 25
    async with running_server() as url:
        url += "?conversation=busy"
        async with connect(url) as observer:

            async def write(n: int) -> None:
                async with connect(url) as client:
                    for k in range(per_writer):
                        await client.send(
                            {"type": "conversation.item.create", "item": message(f"w{n}-{k}")}
                        )
                    seen = 0
                    while seen < per_writer:
                        event = await client.receive()
                        if event["item"]["id"].startswith(f"w{n}-"):
                            seen += 1

            async with trio.open_nursery() as nursery:
                for n in range(writers):
                    nursery.start_soon(write, n)
            ids = [(await observer.receive())["item"]["id"] for _ in range(writers * per_writer)]
        for n in range(writers):
            mine = [i for i in ids if i.startswith(f"w{n}-")]
            assert mine == [f"w{n}-{k}" for k in range(per_writer)]


async def test_a_restarted_server_knows_every_item(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'chorus.sqlite3'}"
    async with running_server(store) as url, connect(url + "?conversation=kept") as client:
        for item_id in ("one", "two", "three"):
            await client.send({"type": "conversation.item.create", "item": message(item_id)})
            await client.receive_type("conversation.item.created")
    async with running_server(store) as url, connect(url + "?conversation=kept") as client:
        # A joining client first receives the history, from the log of the earlier run.
        history = [await client.receive_type("conversation.item.created") for _ in range(3)]
        assert [event["item"]["id"] for event in history] == ["one", "two", "three"]
        await client.send(
            {"type": "conversation.item.create", "previous_item_id": "one", "item": message("1.5")}
        )
        created = await client.receive_type("conversation.item.created")
        assert created["previous_item_id"] == "one"
        await client.send({"type": "conversation.item.create", "item": message("two")})
        error = await client.receive_type("error")
        assert error["error"]["code"] == "item_create_duplicate_item_id"
        await client.send({"type": "conversation.item.create", "item": message("four")})
        assert (await client.receive_type("conversation.item.created"))[
            "previous_item_id"
        ] == "three"
