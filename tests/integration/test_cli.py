"""The ``chorus`` command as a user runs it: a real process, real stdout, real exit codes."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.helpers import connect, message

LISTENING = "chorus listening on ws://"


def chorus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("store", "message_part"),
    [
        ("postgres://nowhere/db", "unsupported store URL"),
        ("sqlite:///", "names no file"),
        ("sqlite:////no/such/dir/x.sqlite3", "does not exist"),
    ],
)
def test_an_unusable_store_is_a_clear_error_with_exit_code_2(store: str, message_part: str) -> None:
    result = chorus("serve", "--port", "0", "--store", store)
    assert result.returncode == 2
    assert message_part in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_on_port_0_prints_the_url_and_uses_the_default_store(tmp_path: Path) -> None:
    env = {**os.environ, "CHORUS_DATA_DIR": str(tmp_path / "data")}
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            functools.partial(
                trio.run_process,
                [sys.executable, "-m", "service", "serve", "--port", "0"],
                stdout=subprocess.PIPE,
                env=env,
                check=False,
            )
        )
        assert process.stdout is not None
        with trio.fail_after(20):
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive_some(1)
        text = line.decode().strip()
        assert text.startswith(LISTENING)
        url = text.removeprefix("chorus listening on ")
        assert url.endswith("/v1/realtime")
        async with connect(url + "?conversation=cli") as client:
            await client.send({"type": "conversation.item.create", "item": message("x")})
            await client.receive_type("conversation.item.created")
        process.terminate()
    assert (tmp_path / "data" / "chorus.sqlite3").exists()
