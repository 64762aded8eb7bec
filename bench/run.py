"""The benchmark suite: the same load against two baseline servers and Chorus, one command.

``python -m bench.run [--quick] [--repeats N] [--markdown FILE]`` runs each case against each
target (a fresh server per run), pinning the server and the load generator to different cores
where possible, and prints medians with ranges and Chorus-to-baseline ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from bench.disk import SyncProbe, probe_fdatasync
from bench.servers import (
    PYTHON,
    RssSampler,
    ServerFailed,
    ServerProcess,
    core_split,
    cpu_seconds,
    pin_prefix,
    rss_kib,
)
from bench.table import Metric, Results, figures_table, ratios_table

BASELINES = ["trio-ws", "websockets"]
CHORUS = ["chorus-memory", "chorus-sqlite"]
RESULTS_DIR = Path(__file__).parent / "results"
_SETTLE = 0.3

METRICS = [
    Metric("sat_creates", "saturation: creates/s accepted", True),
    Metric("sat_deliveries", "saturation: deliveries/s", True),
    Metric("sat_p99", "saturation: p99 create->delivery ms", False, 1),
    Metric("sat_gen_cpu", "saturation: generator CPU % of a core", False),
    Metric("fixed_p50", "1,000/s: p50 create->delivery ms", False, 2),
    Metric("fixed_p99", "1,000/s: p99 create->delivery ms", False, 2),
    Metric("fixed_second_p99", "1,000/s: p99 of the median second ms", False, 2),
    Metric("fixed_creates", "1,000/s: creates/s accepted", True),
    Metric("fixed_server_us", "1,000/s: server CPU µs per create", False),
    Metric("fixed_lag_p99", "1,000/s: generator send lag p99 ms", False, 2),
    Metric("idle_kib", "idle: server KiB per connection", False, 1),
    Metric(
        "disk_p99", "disk before each SQLite run: raw fdatasync p99 ms", False, 2, compared=False
    ),
    Metric(
        "disk_max", "disk before each SQLite run: raw fdatasync max ms", False, 1, compared=False
    ),
]
# How long the disk is probed before each SQLite run (see ``bench.disk``).
DISK_PROBE_SECONDS = 3.0
# A sync slower than this in the probe is a stall worth a note under the table: a commit of the
# log takes well under a millisecond on a healthy disk, and at 1,000 creates/s a stall this long
# already lifts a run's p99.
DISK_STALL_MS = 20.0


@attrs.frozen
class Case:
    """A load: ``loadtest`` flags, and how to read figures out of its JSON report."""

    name: str
    conversations: int
    observers: int
    flags: list[str]
    duration: float


def cases(quick: bool, window: int) -> list[Case]:
    seconds = 1.5 if quick else 10.0
    return [
        Case("saturation", 50, 3, ["--window", str(window)], seconds),
        Case("fixed", 250, 3, ["--rate", "1000"], seconds),
        Case("idle", 250 if quick else 1250, 3, ["--rate", "0"], 1.0 if quick else 3.0),
    ]


def server_command(target: str, workdir: Path) -> list[str]:
    if target == "trio-ws":
        return [PYTHON, "-m", "bench.baselines.trio_ws_broadcast", "--port", "0"]
    if target == "websockets":
        return [PYTHON, "-m", "bench.baselines.websockets_broadcast", "--port", "0"]
    store = "memory://" if target == "chorus-memory" else f"sqlite:///{workdir}/chorus.sqlite3"
    # No per-connection rate limit: the benchmark measures what the server can do, and each
    # writer sends thousands of creates a second.
    return [PYTHON, "-m", "service", "serve", "--port", "0", "--store", store, "--rate-limit", "0"]


def run_loadtest(
    case: Case, url: str, pin: list[str], processes: int, out: Path, client: str = "raw"
) -> dict[str, Any]:
    """Run ``python -m service.loadtest`` for ``case``; returns its JSON report."""
    command = [
        *pin,
        PYTHON,
        "-m",
        "service.loadtest",
        "--url",
        url,
        "--conversations",
        str(case.conversations),
        "--observers",
        str(case.observers),
        "--duration",
        str(case.duration),
        "--processes",
        str(processes),
        "--client",
        client,
        "--json",
        str(out),
        *case.flags,
    ]
    with out.with_suffix(".log").open("w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)
    if not out.exists():
        raise OSError(f"the load generator wrote no report; see {out.with_suffix('.log')}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def median_second_p99(report: dict[str, Any]) -> float:
    """The median, over a run's whole seconds, of each second's p99 create->delivery.

    A run's p99 swings with where a pause (a young garbage collection, a checkpoint) falls in
    its window, and with how many fall there; the median second shows the steady state beside
    it. Seconds with under half the creates of the busiest one are the run's ragged ends.
    """
    seconds = [s for s in report["timeline"] if s["delivery_p99_ms"] is not None]
    if not seconds:
        return 0.0
    busiest = max(s["sent"] for s in seconds)
    return float(
        statistics.median(s["delivery_p99_ms"] for s in seconds if s["sent"] >= busiest / 2)
    )


def record(
    results: Results,
    target: str,
    case: Case,
    report: dict[str, Any],
    rss: tuple[int, int],
    server_cpu: float,
) -> None:
    """Pull the case's figures out of a loadtest report into ``results``.

    ``server_cpu``: the server's CPU seconds over the whole load test, connecting included.
    """
    delivery = report["delivery_latency"]
    if case.name == "saturation":
        results.add(target, "sat_creates", report["creates_per_s"])
        results.add(target, "sat_deliveries", report["deliveries_per_s"])
        results.add(target, "sat_p99", delivery["p99_ms"] or 0.0)
        results.add(target, "sat_gen_cpu", report["generator"]["measured_cpu_percent"])
    elif case.name == "fixed":
        results.add(target, "fixed_p50", delivery["p50_ms"] or 0.0)
        results.add(target, "fixed_p99", delivery["p99_ms"] or 0.0)
        results.add(target, "fixed_second_p99", median_second_p99(report))
        results.add(target, "fixed_creates", report["creates_per_s"])
        # A saturated server is busy all the time, so its CPU per create is only 1/throughput;
        # at a fixed rate it tells how much of a core the same work costs each server (the
        # 1,000 connections' handshakes included).
        acked = max(report["creates_acked"], 1)
        results.add(target, "fixed_server_us", server_cpu / acked * 1e6)
        # How late the generator itself sent: a high figure means the generator was held up
        # (by the machine, not the server) and the latencies of that run are suspect.
        results.add(target, "fixed_lag_p99", report["send_lag"]["p99_ms"] or 0.0)
    else:
        before, peak = rss
        opened = max(report["connections_opened"], 1)
        results.add(target, "idle_kib", (peak - before) / opened)
    problems = []
    if not report["ok"]:
        problems.append(f"integrity {report['integrity']}")
    if report["connection_failures"]:
        problems.append(f"{report['connection_failures']} connection failures")
    if report["errors_by_code"]:
        problems.append(f"errors {report['errors_by_code']}")
    if problems:
        results.notes.append(f"{target} {case.name}: " + "; ".join(problems))


def record_disk(results: Results, target: str, run: str, probe: SyncProbe) -> None:
    """Add the disk probe taken before ``run`` (its files' name) to ``results``; note a stall."""
    results.add(target, "disk_p99", probe.p99_ms)
    results.add(target, "disk_max", probe.max_ms)
    if probe.max_ms > DISK_STALL_MS:
        results.notes.append(
            f"{run}: the disk stalled for {probe.max_ms:.0f} ms in the probe before it"
            f" ({probe.count} syncs, p99 {probe.p99_ms:.2f} ms); its figures include such stalls"
        )


def run_one(target: str, case: Case, args: argparse.Namespace, results: Results, run: str) -> None:
    server_cores, generator_cores = core_split() if not args.no_pin else (None, None)
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        base = args.results_dir / f"{run}-{target}-{case.name}"
        if target == "chorus-sqlite" and case.name != "idle":
            # On the file system the log will be on, with nothing else running.
            probe = probe_fdatasync(Path(tmp), 0.5 if args.quick else DISK_PROBE_SECONDS)
            base.with_suffix(".disk.json").write_text(json.dumps(attrs.asdict(probe)))
            record_disk(results, target, base.name, probe)
        try:
            server = ServerProcess.start(
                [*pin_prefix(server_cores), *server_command(target, Path(tmp))],
                base.with_suffix(".server.log"),
            )
        except ServerFailed as exc:
            if not any(n.startswith(f"{target}: ") for n in results.notes):
                results.notes.append(f"{target}: {exc}")
            return
        try:
            time.sleep(_SETTLE)
            before = rss_kib(server.proc.pid)
            cpu_before = cpu_seconds(server.proc.pid)
            with RssSampler(server.proc.pid) as sampler:
                report = run_loadtest(
                    case,
                    server.url,
                    pin_prefix(generator_cores),
                    args.processes,
                    base.with_suffix(".json"),
                    args.client,
                )
            server_cpu = cpu_seconds(server.proc.pid) - cpu_before
            record(results, target, case, report, (before, sampler.peak), server_cpu)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            results.notes.append(f"{target} {case.name}: loadtest failed: {exc}")
        finally:
            server.stop()


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    server, generator = core_split()
    pinning = f"server on core {server}, generator on {generator}" if server else "no pinning"
    return (
        f"{model}, {os.cpu_count()} cores ({pinning}), Linux {platform.release()},"
        f" Python {platform.python_version()}"
    )


def render(results: Results, args: argparse.Namespace, elapsed: float) -> str:
    present = [t for t in CHORUS if t in results.values]
    lines = [
        f"## Benchmark ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {machine()}. {args.repeats} repeat(s) per case, median [min-max];"
        f" saturation: 50 conversations x (1 writer + 3 observers), closed loop window"
        f" {args.window}; 1,000/s: 250 x (1 + 3), open loop; idle: RSS growth of the server"
        f" over its connections; load generator client {args.client}."
        f" Suite took {elapsed:.0f} s; load average at the end"
        f" {os.getloadavg()[0]:.2f} (above ~2 means something else shared the cores).",
        "",
        figures_table(results),
        "",
    ]
    if present:
        lines += [
            "Chorus as a ratio of each baseline:",
            "",
            ratios_table(results, present, BASELINES),
            "",
        ]
    lines += [f"- {note}" for note in results.notes]
    return "\n".join(lines).rstrip() + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--repeats", type=int, help="runs per case (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="short smoke run, one repeat")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--targets", nargs="+", default=[*BASELINES, *CHORUS], choices=[*BASELINES, *CHORUS]
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["saturation", "fixed", "idle"],
        choices=["saturation", "fixed", "idle"],
    )
    parser.add_argument("--window", type=int, default=4, help="saturation: creates in flight")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--client",
        choices=["raw", "trio-websocket"],
        default="raw",
        help="the load generator's WebSocket client",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results = Results(targets=args.targets, metrics=METRICS)
    started = time.monotonic()
    for case in cases(args.quick, args.window):
        if case.name not in args.cases:
            continue
        for repeat in range(args.repeats):
            # Interleave targets within a repeat so drift on the machine hits them all alike.
            for target in args.targets:
                print(f"{case.name} #{repeat + 1}: {target}", file=sys.stderr, flush=True)
                run_one(target, case, args, results, f"r{repeat}")
    text = render(results, args, time.monotonic() - started)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
