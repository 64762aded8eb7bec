"""The live progress display: one rewritten line on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

import trio

from service.loadtest.config import LoadConfig
from service.loadtest.stats import Snapshot

TTY_INTERVAL = 0.5
LOG_INTERVAL = 2.0


def format_progress(cfg: LoadConfig, now: Snapshot, rate: float) -> str:
    """One status line: phase/elapsed, connections, creates, deliveries, rate and recent p99."""
    if now.elapsed is None:
        phase = f"connecting {now.connections_up + now.connection_failures}/{cfg.connections}"
    else:
        phase = f"{min(now.elapsed, cfg.duration):6.1f}/{cfg.duration:.1f}s"
    p99 = "-" if now.recent_p99 is None else f"{now.recent_p99 * 1000:.2f} ms"
    return (
        f"[{phase}] conns up {now.connections_up}/{cfg.connections}"
        f" (failed {now.connection_failures}) | creates sent {now.sent:,} acked {now.acked:,}"
        f" | deliveries {now.delivered:,} | {rate:,.0f} creates/s | p99 {p99}"
        + (f" | errors {now.errors:,}" if now.errors else "")
    )


class ProgressDisplay:
    """Polls ``read`` and shows the totals on ``out`` until cancelled."""

    def __init__(self, cfg: LoadConfig, read: Callable[[], Snapshot], out: TextIO) -> None:
        self._cfg = cfg
        self._read = read
        self._out = out
        self._tty = out.isatty()

    async def run(self) -> None:
        interval = TTY_INTERVAL if self._tty else LOG_INTERVAL
        last_acked, last_time = 0, time.monotonic()
        try:
            while True:
                await trio.sleep(interval)
                snapshot = self._read()
                now = time.monotonic()
                rate = (snapshot.acked - last_acked) / max(now - last_time, 1e-9)
                last_acked, last_time = snapshot.acked, now
                line = format_progress(self._cfg, snapshot, rate)
                if self._tty:
                    self._out.write("\r\x1b[2K" + line)
                else:
                    self._out.write(line + "\n")
                self._out.flush()
        finally:
            if self._tty:
                self._out.write("\n")
                self._out.flush()
