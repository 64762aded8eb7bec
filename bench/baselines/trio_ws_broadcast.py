"""Baseline: a broadcast server on trio-websocket, written the straightforward way.

Decode each create, then send every connection of the conversation its copy in turn. No
validation, no persistence. ``python -m bench.baselines.trio_ws_broadcast --port 0``.
"""

from __future__ import annotations

import functools
import itertools

import attrs
import orjson
import trio
import trio_websocket

from bench.baselines.common import (
    conversation_of,
    created_frame,
    greetings,
    listening_line,
    parse_args,
)

NAME = "trio-ws-broadcast"


@attrs.define
class Room:
    members: set[trio_websocket.WebSocketConnection] = attrs.field(factory=set)
    last_id: str | None = None


@attrs.define
class Broadcaster:
    rooms: dict[str, Room] = attrs.field(factory=dict)
    counter: itertools.count[int] = attrs.field(factory=itertools.count)

    async def handle(self, request: trio_websocket.WebSocketRequest) -> None:
        conversation_id = conversation_of(request.path)
        if conversation_id is None:
            await request.reject(404)
            return
        ws = await request.accept()
        room = self.rooms.setdefault(conversation_id, Room())
        room.members.add(ws)
        try:
            for text in greetings(conversation_id):
                await ws.send_message(text)
            while True:
                event = orjson.loads(await ws.get_message())
                if event.get("type") != "conversation.item.create":
                    continue
                text, room.last_id = created_frame(event["item"], room.last_id, self.counter)
                for member in list(room.members):
                    try:
                        await member.send_message(text)
                    except trio_websocket.ConnectionClosed:
                        room.members.discard(member)
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            room.members.discard(ws)
            if not room.members:
                self.rooms.pop(conversation_id, None)


async def serve(
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; ``task_status.started(port)`` once listening."""
    handler = Broadcaster().handle
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(trio_websocket.serve_websocket, handler, host, port, None)
        )
        task_status.started(server.port)


async def main() -> None:
    args = parse_args(NAME)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve, args.host, args.port)
        print(listening_line(NAME, args.host, port), flush=True)


if __name__ == "__main__":
    trio.run(main)
