"""The report: figures from merged stats, the JSON shape, exit codes, flags and progress."""

import argparse

import orjson
import pytest

from service.loadtest import add_subcommand
from service.loadtest.config import ConfigError, LoadConfig
from service.loadtest.integrity import IntegrityCounts
from service.loadtest.progress import format_progress
from service.loadtest.report import (
    EXIT_INTEGRITY,
    EXIT_NO_CONNECTIONS,
    EXIT_OK,
    build_report,
    render_text,
)
from service.loadtest.stats import Snapshot, WorkerStats
from tests.helpers import load_config as config


def two_workers() -> WorkerStats:
    merged = WorkerStats()
    for offset in (0.0, 0.002):
        stats = WorkerStats(origin=100.0, connections_opened=4, cpu_seconds=0.5)
        stats.measured_seconds = 2.0
        for n in range(10):
            now = 100.0 + n * 0.19
            stats.on_sent(now, lag=0.0005 * n)
            stats.on_ack(now, 0.001 + offset)
            for _ in range(3):
                stats.on_delivery(now, 0.002 + offset)
        stats.on_error("invalid_value")
        merged.merge(stats)
    return merged


def test_report_figures_and_json() -> None:
    report = build_report(config(), two_workers(), total_cpu_seconds=1.5, total_wall_seconds=3.0)
    assert report.creates_acked == 20
    assert report.creates_per_s == 10.0
    assert report.deliveries_per_s == 30.0
    assert report.ack_latency.count == 20
    assert report.ack_latency.p50_ms == pytest.approx(1.0, rel=0.01)
    assert report.delivery_latency.max_ms == pytest.approx(4.0, rel=0.01)
    assert report.send_lag.count == 20
    assert report.send_lag.max_ms == pytest.approx(4.5, rel=0.01)
    assert report.errors_by_code == {"invalid_value": 2}
    assert report.generator.measured_cpu_percent == 50.0
    assert sum(p.acked for p in report.timeline) == 20
    assert report.exit_code == EXIT_OK

    data = orjson.loads(report.to_json())
    assert data["ok"] is True
    assert data["integrity"]["total"] == 0
    assert data["delivery_latency"]["p99_9_ms"] == pytest.approx(4.0, rel=0.01)
    assert data["send_lag"]["count"] == 20
    assert data["timeline"][0]["second"] == 0
    assert data["config"]["mode"] == "closed"


def test_integrity_failure_and_no_connections_set_the_exit_code() -> None:
    stats = two_workers()
    stats.integrity.merge(IntegrityCounts(duplicates=1))
    report = build_report(config(), stats, 0.0, 1.0)
    assert report.exit_code == EXIT_INTEGRITY
    assert orjson.loads(report.to_json())["ok"] is False
    assert build_report(config(), WorkerStats(), 0.0, 1.0).exit_code == EXIT_NO_CONNECTIONS


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers(dest="command"))
    return parser.parse_args(["loadtest", "--url", "ws://h:1/v1/realtime", *argv])


def test_flags_build_a_config_and_a_command() -> None:
    args = parse("--conversations", "5", "--rate", "100", "--dialect", "ga", "--processes", "2")
    cfg = LoadConfig.from_args(args)
    assert (cfg.conversations, cfg.rate, cfg.window, cfg.dialect) == (5, 100.0, None, "ga")
    assert cfg.connections == 5 * 4
    assert callable(args.func)
    assert LoadConfig.from_args(parse()).window == 1  # closed loop by default


def test_client_flag_defaults_to_raw_and_is_reported() -> None:
    assert LoadConfig.from_args(parse()).client == "raw"
    cfg = LoadConfig.from_args(parse("--client", "trio-websocket"))
    report = build_report(cfg, WorkerStats(), 0.0, 1.0)
    assert orjson.loads(report.to_json())["config"]["client"] == "trio-websocket"
    assert "client trio-websocket" in render_text(report)
    with pytest.raises(SystemExit):
        parse("--client", "aiohttp")


def test_rate_and_window_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse("--rate", "1", "--window", "2")


@pytest.mark.parametrize(
    "overrides",
    [
        {"url": "http://h/v1/realtime"},
        {"processes": 3},
        {"window": 0},
        {"duration": 0},
        {"rate": 5.0},  # together with the default window
    ],
)
def test_inconsistent_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        config(**overrides)


def test_progress_line_shows_phase_and_totals() -> None:
    cfg = config()
    connecting = format_progress(cfg, Snapshot(connections_up=3), rate=0.0)
    assert connecting.startswith("[connecting 3/8]")
    running = format_progress(
        cfg, Snapshot(connections_up=8, sent=10, acked=9, recent_p99=0.0125, elapsed=1.0), 9.0
    )
    assert "1.0/2.0s" in running
    assert "acked 9" in running
    assert "p99 12.50 ms" in running


def test_snapshot_survives_the_shared_memory_encoding() -> None:
    snapshot = Snapshot(1, 2, 3, 4, 5, 6, recent_p99=None, elapsed=2.5)
    assert Snapshot.from_floats(snapshot.to_floats()) == snapshot
    combined = Snapshot.combine([snapshot, Snapshot(sent=1, recent_p99=0.5)])
    assert (combined.sent, combined.recent_p99, combined.elapsed) == (4, 0.5, 2.5)
