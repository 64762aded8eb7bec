"""Run ``python -m service serve`` as a real child process, for signal and crash tests."""

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

TIMEOUT = 20


class ServerProcess:
    """A running ``chorus serve``: its process, ws:// URL and the output read so far."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.url = ""
        self.ops_url: str | None = None
        self._buffer = b""

    async def read_line(self) -> str:
        assert self.process.stdout is not None
        with trio.fail_after(TIMEOUT):
            while b"\n" not in self._buffer:
                chunk = await self.process.stdout.receive_some(4096)
                if not chunk:
                    raise EOFError(f"server exited; output so far: {self._buffer!r}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def wait(self) -> int:
        with trio.fail_after(TIMEOUT):
            return await self.process.wait()


@asynccontextmanager
async def server_process(*args: str, ops: bool = False) -> AsyncIterator[ServerProcess]:
    """Start ``chorus serve --port 0 ARGS`` and yield it once it prints its URL; kills it after."""
    command = [sys.executable, "-m", "service", "serve", "--port", "0", *args]
    if ops:
        command += ["--http-port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    server = ServerProcess(process)
    try:
        first = await server.read_line()
        assert first.startswith("chorus listening on ws://"), first
        server.url = first.removeprefix("chorus listening on ")
        if ops:
            second = await server.read_line()
            server.ops_url = second.removeprefix("chorus operations on ").removesuffix("/metrics")
        yield server
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        with trio.move_on_after(TIMEOUT):
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
