"""``chorus serve`` refuses unsafe or invalid hardening flags with exit code 2."""

from pathlib import Path

import pytest

from service.cli import build_parser, main, settings_from_args
from service.hardening import is_loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("", False)],
)
def test_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_public_bind_without_keys_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--store", "memory://"]) == 2
    assert "--api-keys" in capsys.readouterr().err


def test_public_bind_with_insecure_or_keys_is_allowed(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--insecure"])
    assert settings_from_args(args).api_keys is None
    keys = tmp_path / "keys.toml"
    keys.write_text('[[keys]]\nkey = "0123456789abcdef0123"\nconversations = ["*"]\n')
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--api-keys", str(keys)])
    settings = settings_from_args(args)
    assert settings.api_keys is not None
    assert len(settings.api_keys) == 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--api-keys", "/nonexistent/keys.toml"],
        ["--rate-limit", "-1"],
        ["--max-frame-bytes", "0"],
        ["--http-port", "70000"],
        ["--log-format", "json", "--log-level", "LOUD"],
    ],
)
def test_bad_flags_exit_2(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", "memory://", *flags]) == 2
    assert capsys.readouterr().err.startswith("chorus: error:")


def test_flags_reach_the_settings() -> None:
    args = build_parser().parse_args(
        ["serve", "--max-items", "5", "--rate-limit", "0", "--grace", "2", "--http-port", "0"]
    )
    settings = settings_from_args(args)
    assert (settings.max_items, settings.rate_limit, settings.grace) == (5, 0, 2)
    assert settings.http_port == 0
