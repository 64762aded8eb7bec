"""The suite's disk probe, and machine readings kept out of the ratios table."""

from pathlib import Path

import pytest

from bench.disk import main as disk_main
from bench.disk import probe_fdatasync
from bench.table import Metric, Results, figures_table, ratios_table


def test_the_probe_times_real_syncs_and_cleans_up(tmp_path: Path) -> None:
    probe = probe_fdatasync(tmp_path, 0.2)
    assert probe.count >= 10
    assert 0 < probe.p50_ms <= probe.p99_ms <= probe.max_ms
    assert list(tmp_path.iterdir()) == []


def test_a_probe_shorter_than_one_sync_still_measures_one(tmp_path: Path) -> None:
    assert probe_fdatasync(tmp_path, 0.0).count == 1


def test_machine_readings_show_as_figures_but_not_as_ratios() -> None:
    metrics = [
        Metric("creates", "creates/s", True),
        Metric("disk", "disk fdatasync p99 ms", False, 2, compared=False),
    ]
    results = Results(targets=["websockets", "chorus-sqlite"], metrics=metrics)
    results.add("websockets", "creates", 100.0)
    results.add("chorus-sqlite", "creates", 90.0)
    results.add("chorus-sqlite", "disk", 0.5)
    results.add("chorus-sqlite", "disk", 0.25)
    assert "| disk fdatasync p99 ms | n/a | 0.38 [0.25-0.50] |" in figures_table(results)
    ratios = ratios_table(results, ["chorus-sqlite"], ["websockets"])
    assert "| creates/s (higher) | 0.90x |" in ratios
    assert "disk" not in ratios


def test_the_command_prints_the_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert disk_main([str(tmp_path), "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "fdatasyncs of 16 KiB writes in 0.1 s: p50 " in out
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        disk_main([str(tmp_path / "nowhere")])
    assert exited.value.code == 2
    assert "is not a directory" in capsys.readouterr().err


def test_the_command_reports_a_directory_it_cannot_write(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nobody, root included, can create a file at the top of /proc.
    assert disk_main(["/proc", "--seconds", "0.1"]) == 1
    assert "cannot probe /proc:" in capsys.readouterr().err
