"""Real sockets: a stalled observer is closed with 4008 and its position; nobody else waits."""

import re

import trio
from trio_websocket import ConnectionClosed

from service.gateway import CLOSE_SLOW_CONSUMER
from tests.helpers import TIMEOUT, connect, message, running_server

ITEMS = 120
# Big frames fill the socket buffers quickly, so the stalled observer's queue overflows.
TEXT = "x" * 200_000


async def test_stalled_observer_is_closed_then_resumes_without_loss() -> None:
    async with (
        running_server(subscriber_queue=4) as url,
        connect(url + "?conversation=busy") as writer,
        connect(url + "?conversation=busy&role=observer") as steady,
        connect(url + "?conversation=busy&role=observer") as stalled,
    ):
        steady_positions: list[int] = []

        async def keep_reading() -> None:
            while len(steady_positions) < ITEMS:
                steady_positions.append((await steady.receive())["position"])

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(keep_reading)
                for index in range(ITEMS):
                    item = message(f"i{index}", text=TEXT)
                    await writer.send({"type": "conversation.item.create", "item": item})
                    # The writer keeps its pace: each create is confirmed before the next.
                    assert (await writer.receive())["position"] == index + 1
        assert steady_positions == list(range(1, ITEMS + 1))

        # The stalled observer now reads what was sent before its close, then the close.
        received: list[int] = []
        with trio.fail_after(TIMEOUT):
            while True:
                try:
                    received.append((await stalled.receive())["position"])
                except ConnectionClosed as closing:
                    close = closing.reason
                    break
        assert close is not None
        assert close.code == CLOSE_SLOW_CONSUMER
        match = re.fullmatch(r"slow consumer; last_position=(\d+)", close.reason or "")
        assert match is not None, close.reason
        last = int(match.group(1))
        assert received == list(range(1, last + 1))
        assert last < ITEMS, "the observer was closed before it fell hopelessly behind"

        resume = f"?conversation=busy&role=observer&after={last}&log={writer.log_id}"
        async with connect(url + resume) as resumed:
            rest = [(await resumed.receive())["position"] for _ in range(ITEMS - last)]
            assert received + rest == list(range(1, ITEMS + 1))
