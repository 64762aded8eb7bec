"""Starting, pinning, measuring and stopping the server processes under benchmark."""

from __future__ import annotations

import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import attrs

_LISTENING = re.compile(r"listening on (ws://\S+)")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class ServerFailed(RuntimeError):
    """The server exited or never said it was listening."""


def pin_prefix(cores: str | None) -> list[str]:
    """``taskset -c CORES`` if pinning was asked for and taskset exists, else nothing."""
    if cores is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", cores]


def core_split() -> tuple[str | None, str | None]:
    """(server cores, generator cores): core 0 for the server, the rest for the generator."""
    count = len(os.sched_getaffinity(0))
    if count < 2:
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    rest = ",".join(str(c) for c in cores[1:])
    return str(cores[0]), rest


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB (``VmRSS`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ServerFailed(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) ``pid`` has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _copy(stream: IO[str], log: IO[str]) -> None:
    for line in stream:
        log.write(line)
    log.flush()


@attrs.define
class RssSampler:
    """Samples a process's RSS in a thread and keeps the maximum."""

    pid: int
    interval: float = 0.05
    peak: int = 0
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, ServerFailed):
                return
            self._stop.wait(self.interval)


@attrs.define
class ServerProcess:
    """A running server: its process, its URL and where its output goes."""

    proc: subprocess.Popen[str]
    url: str
    log: IO[str]
    copier: threading.Thread

    @classmethod
    def start(cls, command: list[str], log_path: Path) -> ServerProcess:
        """Start ``command`` and wait for its ``listening on ws://...`` line.

        Raises ServerFailed if it exits or stays silent for START_TIMEOUT seconds.
        """
        log = log_path.open("w")
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            preexec_fn=_raise_nofile,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                line = proc.stdout.readline()
                log.write(line)
                if match := _LISTENING.search(line):
                    copier = threading.Thread(target=_copy, args=(proc.stdout, log), daemon=True)
                    copier.start()
                    return cls(proc, match.group(1), log, copier)
                if not line:
                    break
        proc.kill()
        proc.wait()
        log.close()
        raise ServerFailed(f"{' '.join(command)} did not start; see {log_path}")

    def stop(self) -> None:
        """SIGINT, then SIGKILL after STOP_TIMEOUT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.copier.join(STOP_TIMEOUT)
        self.log.close()


PYTHON = sys.executable
