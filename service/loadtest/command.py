"""The ``chorus loadtest`` command: flags, running, printing and writing the report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from service.loadtest.client import CLIENT_KINDS
from service.loadtest.config import ConfigError, LoadConfig
from service.loadtest.plot import MISSING_MATPLOTLIB, matplotlib_installed, plot_report
from service.loadtest.report import render_text
from service.loadtest.runner import LoadTestError, run_load

EXIT_USAGE = 2
EXIT_FAILED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``loadtest`` flags to ``parser``."""
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/v1/realtime")
    parser.add_argument("--conversations", type=int, default=10, help="number of conversations")
    parser.add_argument("--observers", type=int, default=3, help="observers per conversation")
    loop = parser.add_mutually_exclusive_group()
    loop.add_argument(
        "--rate", type=float, help="open loop: creates/s in total (0 holds idle connections)"
    )
    loop.add_argument(
        "--window", type=int, help="closed loop: creates in flight per writer (default 1)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="seconds over which to open the connections"
    )
    parser.add_argument("--payload-bytes", type=int, default=64, help="text bytes per item")
    parser.add_argument("--processes", type=int, default=1, help="load-generating processes")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON ('-': stdout)")
    parser.add_argument("--plot", metavar="FILE.png", help="plot throughput and latency")
    parser.add_argument("--dialect", choices=("beta", "ga"), default="beta")
    parser.add_argument("--api-key", help="sent as 'Authorization: Bearer KEY'")
    parser.add_argument(
        "--drain-timeout", type=float, default=5.0, help="seconds to wait for stragglers"
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=10.0, help="seconds per connection handshake"
    )
    parser.add_argument(
        "--client",
        choices=CLIENT_KINDS,
        default="raw",
        help="WebSocket client: 'raw' (built-in, fast; default) or 'trio-websocket'",
    )


def add_subcommand(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``loadtest``; its ``func`` returns the exit code."""
    parser = subparsers.add_parser(
        "loadtest",
        help="load a Realtime conversation server and report throughput, latency and integrity",
        description="N conversations, each with one writer and M observers, open or closed loop."
        " Exits 1 if any integrity counter is above zero.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the load test the flags describe; 0 ok, 1 integrity failure, 2 usage, 3 failed."""
    try:
        cfg = LoadConfig.from_args(args)
    except ConfigError as exc:
        print(f"chorus loadtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Before the run, not after it: a long load test should not end in a traceback.
    problem = output_problem(cfg)
    if problem:
        print(f"chorus loadtest: {problem}", file=sys.stderr)
        return EXIT_USAGE
    # With the JSON on stdout, everything for humans goes to stderr.
    human = sys.stderr if cfg.json_path == "-" else sys.stdout
    try:
        report = run_load(cfg, human, own_process=True)
    except LoadTestError as exc:
        print(f"chorus loadtest: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(render_text(report), file=human, flush=True)
    try:
        if cfg.json_path == "-":
            sys.stdout.buffer.write(report.to_json() + b"\n")
            sys.stdout.flush()
        elif cfg.json_path:
            Path(cfg.json_path).write_bytes(report.to_json())
        if cfg.plot_path:
            problem = plot_report(report, cfg.plot_path)
    except OSError as exc:  # the directory went away or filled up during the run
        problem = f"cannot write the report: {exc}"
    if problem:
        print(f"chorus loadtest: {problem}", file=sys.stderr)
        return EXIT_FAILED
    return report.exit_code


def output_problem(cfg: LoadConfig) -> str | None:
    """Why ``--json`` or ``--plot`` could not be written once the run is over, or None."""
    outputs = [("--json", cfg.json_path), ("--plot", cfg.plot_path)]
    for flag, path in outputs:
        if path is None or path == "-":
            continue
        directory = Path(path).parent
        if not directory.is_dir():
            return f"{flag} {path!r}: directory {str(directory)!r} does not exist"
        if not os.access(directory, os.W_OK):
            return f"{flag} {path!r}: directory {str(directory)!r} is not writable"
        if Path(path).is_dir():
            return f"{flag} {path!r} is a directory"
    if cfg.plot_path is not None and not matplotlib_installed():
        return MISSING_MATPLOTLIB
    return None
