"""How fast the disk itself makes a write durable, measured just before a durable run.

``python -m bench.disk [--seconds S] DIRECTORY`` prints the same probe for any directory, say
the one a deployment's SQLite log will live in.

A virtual disk can stall now and then (seen here: a raw ``fdatasync`` of 61-247 ms within 20-30
seconds, when most take 0.1-0.2 ms). Every commit of the SQLite log waits for one, and in a
closed loop or at a fixed rate one stall holds up every conversation, so a slow second of
Chorus on SQLite may be the disk's and not the server's. The suite probes the disk the log will
live on right before each SQLite run and reports it beside the run's figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import attrs

from service.loadtest.histogram import LatencyHistogram

# About one SQLite commit of a few events: a few pages written, then made durable.
WRITE_BYTES = 16 * 1024
# Offsets cycle over this much of the file, like a WAL that is reused after a checkpoint.
FILE_BYTES = 4 * 1024 * 1024
# Between syncs, so the probe makes the ~500-600 syncs/s of 1,000 creates/s, not a flood.
PAUSE = 0.0015


@attrs.frozen
class SyncProbe:
    """Latency of ``count`` write + fdatasync pairs, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def probe_fdatasync(directory: Path, seconds: float) -> SyncProbe:
    """Write and fdatasync a scratch file in ``directory`` for ``seconds``; the file is removed.

    Only the fdatasync is timed: the write goes to the page cache, the sync is what waits for
    the disk.
    """
    path = directory / "fdatasync-probe.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.pwrite(fd, bytes(FILE_BYTES), 0)
        os.fsync(fd)
        block = os.urandom(WRITE_BYTES)
        slots = FILE_BYTES // WRITE_BYTES
        timings = LatencyHistogram()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or not timings.count:
            os.pwrite(fd, block, (timings.count % slots) * WRITE_BYTES)
            started = time.perf_counter()
            os.fdatasync(fd)
            timings.record(time.perf_counter() - started)
            time.sleep(PAUSE)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return SyncProbe(
        count=timings.count,
        p50_ms=(timings.percentile(50) or 0.0) * 1e3,
        p99_ms=(timings.percentile(99) or 0.0) * 1e3,
        max_ms=(timings.max or 0.0) * 1e3,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.disk", description=__doc__)
    parser.add_argument("directory", type=Path, help="where to write the scratch file")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to probe")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a directory")
    try:
        probe = probe_fdatasync(args.directory, args.seconds)
    except OSError as exc:
        print(f"python -m bench.disk: cannot probe {args.directory}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{probe.count} fdatasyncs of {WRITE_BYTES // 1024} KiB writes in {args.seconds:g} s:"
        f" p50 {probe.p50_ms:.3f} ms, p99 {probe.p99_ms:.3f} ms, max {probe.max_ms:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
