"""Baseline: the same broadcast server on the ``websockets`` library (asyncio).

What a user might write instead of Chorus: decode each create and ``await send`` it to every
connection of the conversation. ``python -m bench.baselines.websockets_broadcast --port 0``.
"""

from __future__ import annotations

import asyncio
import itertools
from http import HTTPStatus

import attrs
import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bench.baselines.common import (
    conversation_of,
    created_frame,
    greetings,
    listening_line,
    parse_args,
)

NAME = "websockets-broadcast"


@attrs.define
class Room:
    members: set[ServerConnection] = attrs.field(factory=set)
    last_id: str | None = None


@attrs.define
class Broadcaster:
    rooms: dict[str, Room] = attrs.field(factory=dict)
    counter: itertools.count[int] = attrs.field(factory=itertools.count)

    def check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if conversation_of(request.path) is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown path or conversation\n")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        conversation_id = conversation_of(ws.request.path if ws.request else "")
        assert conversation_id is not None  # check_path rejected the rest
        room = self.rooms.setdefault(conversation_id, Room())
        room.members.add(ws)
        try:
            for text in greetings(conversation_id):
                await ws.send(text)
            async for message in ws:
                event = orjson.loads(message)
                if event.get("type") != "conversation.item.create":
                    continue
                text, room.last_id = created_frame(event["item"], room.last_id, self.counter)
                for member in list(room.members):
                    try:
                        await member.send(text)
                    except ConnectionClosed:
                        room.members.discard(member)
        except ConnectionClosed:
            pass
        finally:
            room.members.discard(ws)
            if not room.members:
                self.rooms.pop(conversation_id, None)


async def main() -> None:
    args = parse_args(NAME)
    broadcaster = Broadcaster()
    async with serve(
        broadcaster.handle,
        args.host,
        args.port,
        process_request=broadcaster.check_path,
        compression=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(listening_line(NAME, args.host, port), flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
