"""``--plot`` and ``--json``: what the plot draws, and bad output paths refused before the run."""

import argparse
from pathlib import Path

import pytest

from service.loadtest import add_subcommand, command
from service.loadtest.config import ConfigError
from service.loadtest.plot import plot_report, seconds_to_draw
from service.loadtest.report import LoadReport, build_report
from service.loadtest.stats import WorkerStats
from tests.helpers import load_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report_of(duration: float, seconds: int) -> LoadReport:
    """A run of ``duration`` whose creates went out over ``seconds`` seconds, 10 a second;
    the last second's acknowledgements arrive in the second after it."""
    stats = WorkerStats(origin=0.0, connections_opened=2)
    stats.measured_seconds = duration
    for second in range(seconds):
        for n in range(10):
            sent = second + n / 10
            stats.on_sent(sent, lag=0.0)
            stats.on_ack(sent + (0.95 if second == seconds - 1 else 0.001), 0.001 * (n + 1))
    return build_report(
        load_config(duration=duration), stats, total_cpu_seconds=0.0, total_wall_seconds=duration
    )


def test_the_seconds_after_the_run_are_not_drawn() -> None:
    report = report_of(duration=3.0, seconds=3)
    # Some of second 2's acknowledgements arrive in second 3, after the run: drawn as a rate,
    # that second would look like throughput falling to a few creates a second.
    assert [p.second for p in report.timeline] == [0, 1, 2, 3]
    assert [p.second for p in seconds_to_draw(report)] == [0, 1, 2]


def test_a_partial_last_second_is_not_drawn_unless_it_is_all_there_is() -> None:
    assert [p.second for p in seconds_to_draw(report_of(2.5, 3))] == [0, 1]
    assert [p.second for p in seconds_to_draw(report_of(0.5, 1))] == [0]


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "run.png"
    assert plot_report(report_of(3.0, 3), str(path)) is None
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert path.stat().st_size > 10_000  # axes, lines and labels, not an empty canvas


def run(tmp_path: Path, *flags: str) -> int:
    parser = argparse.ArgumentParser()
    add_subcommand(parser.add_subparsers(dest="command"))
    # Nothing listens on port 1: a run that started would fail to connect, not be refused.
    args = parser.parse_args(
        ["loadtest", "--url", "ws://127.0.0.1:1/v1/realtime", "--duration", "1", *flags]
    )
    exit_code: int = args.func(args)
    return exit_code


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--json", "{tmp}/missing/report.json"), "does not exist"),
        (("--plot", "{tmp}/missing/report.png"), "does not exist"),
        (("--json", "{tmp}"), "is a directory"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, str], message: str
) -> None:
    flag, path = flags
    assert run(tmp_path, flag, path.format(tmp=tmp_path)) == command.EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err
    assert flag in captured.err
    assert "connections" not in captured.out  # no run, no report


def test_plot_without_matplotlib_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "matplotlib_installed", lambda: False)
    assert run(tmp_path, "--plot", str(tmp_path / "run.png")) == command.EXIT_USAGE
    assert "pip install matplotlib" in capsys.readouterr().err


def test_a_plot_name_matplotlib_cannot_write_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--plot"):
        load_config(plot_path="report.txt")
    assert load_config(plot_path="REPORT.PNG").plot_path == "REPORT.PNG"
