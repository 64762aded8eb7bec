"""Real sockets: observers, history on join, positions, resume and the close codes."""

from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed

from service.gateway import CLOSE_RESUME_UNAVAILABLE
from tests.helpers import TIMEOUT, Client, connect, handshake_status, message, running_server


def create(item_id: str, previous: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "conversation.item.create", "item": message(item_id)}
    if previous is not None:
        event["previous_item_id"] = previous
    return event


async def changes(client: Client, count: int) -> list[dict[str, Any]]:
    return [await client.receive() for _ in range(count)]


def apply(events: list[dict[str, Any]]) -> list[str]:
    """The item ids a client ends with, applying the events with the protocol's rules."""
    items: list[str] = []
    for event in events:
        if event["type"] == "conversation.item.created":
            previous = event["previous_item_id"]
            index = 0 if previous is None else items.index(previous) + 1
            items.insert(index, event["item"]["id"])
        else:
            assert event["type"] == "conversation.item.deleted", event
            items.remove(event["item_id"])
    return items


async def closed(client: Client) -> ConnectionClosed:
    """Read until the server closes the connection; return how it closed."""
    with trio.fail_after(TIMEOUT):
        while True:
            try:
                await client.receive()
            except ConnectionClosed as closing:
                return closing


async def test_observer_sees_every_change_and_cannot_write() -> None:
    async with (
        running_server() as url,
        connect(url + "?conversation=watched") as writer,
        connect(url + "?conversation=watched&role=observer") as observer,
    ):
        await observer.send({**create("sneaky"), "event_id": "evt_1"})
        error = await observer.receive_type("error")
        assert error["error"]["code"] == "observer_cannot_write"
        assert error["error"]["param"] is None
        assert error["error"]["event_id"] == "evt_1"
        await observer.send({"type": "conversation.item.delete", "item_id": "a"})
        assert (await observer.receive_type("error"))["error"]["code"] == "observer_cannot_write"

        await writer.send(create("a"))
        created = await observer.receive_type("conversation.item.created")
        assert created["item"]["id"] == "a"
        assert created["position"] == 1, "the observer's writes changed nothing"
        assert (await writer.receive())["position"] == 1

        await observer.send({"type": "conversation.item.retrieve", "item_id": "a"})
        assert (await observer.receive_type("conversation.item.retrieved"))["item"]["id"] == "a"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?role=admin", "invalid_role"),
        ("?after=-1", "invalid_position"),
        ("?after=x", "invalid_position"),
    ],
)
async def test_bad_join_parameters_are_refused_before_the_upgrade(query: str, code: str) -> None:
    async with running_server() as url:
        status, body = await handshake_status(url + query)
    assert status == 400
    assert code.encode() in body


async def test_joining_replays_history_then_live_and_resume_gets_exactly_the_rest() -> None:
    async with running_server() as url, connect(url + "?conversation=c") as writer:
        await writer.send(create("a"))
        await writer.send(create("b"))
        await writer.send(create("front", previous="root"))
        await writer.send({"type": "conversation.item.delete", "item_id": "b"})
        history = await changes(writer, 4)
        assert [event["position"] for event in history] == [1, 2, 3, 4]

        async with connect(url + "?conversation=c&role=observer") as observer:
            replayed = await changes(observer, 4)
            assert [event["position"] for event in replayed] == [1, 2, 3, 4]
            assert apply(replayed) == ["front", "a"]
            await writer.send(create("c"))
            live = await observer.receive_type("conversation.item.created")
            assert (live["item"]["id"], live["position"]) == ("c", 5)

        resume = f"?conversation=c&role=observer&after=2&log={writer.log_id}"
        async with connect(url + resume) as resumed:
            assert [event["position"] for event in await changes(resumed, 3)] == [3, 4, 5]
            await writer.send(create("d"))
            assert (await resumed.receive())["position"] == 6

        async with connect(url + "?conversation=c&after=6") as caught_up:
            await writer.send(create("e"))
            assert (await caught_up.receive())["position"] == 7


async def test_a_writer_joining_late_writes_after_its_history() -> None:
    async with running_server(rate_limit=0) as url:  # 300 creates at once: no rate limit
        async with connect(url + "?conversation=late") as first:
            for index in range(300):
                await first.send(create(f"i{index}"))
            await changes(first, 300)
        async with connect(url + "?conversation=late") as late:
            await late.send(create("mine"))
            events = await changes(late, 301)
            assert [event["position"] for event in events] == list(range(1, 302))
            assert events[-1]["item"]["id"] == "mine"


@pytest.mark.parametrize(
    ("query", "param"),
    [("?conversation=c&after=3", "after"), ("?conversation=c&log=log_other", "log")],
)
async def test_an_unservable_resume_is_an_error_and_a_documented_close(
    query: str, param: str
) -> None:
    async with running_server() as url, connect(url + "?conversation=c") as writer:
        await writer.send(create("a"))
        await writer.receive()
        async with connect(url + query) as resumer:
            error = await resumer.receive_type("error")
            assert error["error"]["code"] == "resume_position_unavailable"
            assert error["error"]["param"] == param
            reason = (await closed(resumer)).reason
            assert reason is not None
            assert reason.code == CLOSE_RESUME_UNAVAILABLE
