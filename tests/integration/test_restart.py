"""Real sockets on SQLite: after a restart, history, positions and resume continue the same log."""

from pathlib import Path

from tests.helpers import connect, message, running_server


async def test_history_and_resume_survive_a_restart(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'chorus.sqlite3'}"
    async with running_server(store_url) as url, connect(url + "?conversation=kept") as writer:
        for item_id in ("a", "b", "c"):
            await writer.send({"type": "conversation.item.create", "item": message(item_id)})
            await writer.receive()
        log_id = writer.log_id

    async with running_server(store_url, passivate_after=0.05) as url:
        async with connect(url + "?conversation=kept&role=observer") as observer:
            assert observer.log_id == log_id
            history = [await observer.receive() for _ in range(3)]
            assert [event["item"]["id"] for event in history] == ["a", "b", "c"]
            assert [event["position"] for event in history] == [1, 2, 3]
        resume = f"?conversation=kept&after=2&log={log_id}"
        async with connect(url + resume) as resumed:
            assert (await resumed.receive())["position"] == 3
            await resumed.send({"type": "conversation.item.create", "item": message("d")})
            created = await resumed.receive()
            assert (created["item"]["id"], created["position"]) == ("d", 4)
