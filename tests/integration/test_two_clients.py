"""Real sockets: clients sharing a conversation see the same events, byte for byte."""

from tests.helpers import connect, message, running_server


async def test_two_clients_receive_identical_frames_in_identical_order() -> None:
    async with (
        running_server() as url,
        connect(url + "?conversation=shared") as alice,
        connect(url + "?conversation=shared") as bob,
    ):
        await alice.send({"type": "conversation.item.create", "item": message("a1")})
        await bob.send({"type": "conversation.item.create", "item": message("b1")})
        await alice.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "root",
                "item": message("front"),
            }
        )
        for _ in range(3):
            await alice.receive()
            await bob.receive()
        assert alice.frames == bob.frames
        ids = list(alice.frames)
        assert len(set(ids)) == 3
