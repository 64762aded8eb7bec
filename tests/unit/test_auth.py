"""The keys file, key presentation and conversation patterns."""

import hashlib
from pathlib import Path

import pytest

from service.auth import (
    ANONYMOUS,
    Denied,
    KeyRing,
    KeysFileError,
    Principal,
    authenticate,
    load_keys,
    presented_key,
)

KEY = "k" * 24


def ring(**entry: object) -> KeyRing:
    return KeyRing.from_table({"keys": [{"name": "a", "conversations": ["*"], **entry}]})


def test_example_keys_file_in_deploy_loads() -> None:
    keys = load_keys(Path(__file__).parents[2] / "deploy" / "keys.example.toml")
    assert len(keys) >= 2


@pytest.mark.parametrize(
    ("pattern", "conversation", "expected"),
    [
        ("*", "anything", True),
        ("support-*", "support-1", True),
        ("support-*", "support-", True),
        ("support-*", "sales-1", False),
        ("lobby", "lobby", True),
        ("lobby", "lobby2", False),
    ],
)
def test_patterns(pattern: str, conversation: str, expected: bool) -> None:
    assert Principal("p", "writer", (pattern,)).permits(conversation) is expected


def test_plain_and_hashed_keys_are_both_accepted() -> None:
    hashed = hashlib.sha256(KEY.encode()).hexdigest()
    for keys in (ring(key=KEY), ring(key_sha256=hashed)):
        assert keys.lookup(KEY) == Principal("a", "writer", ("*",))
        assert keys.lookup(KEY + "x") is None


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({}, "list of [[keys]]"),
        ({"keys": []}, "defines no keys"),
        ({"keys": [{"conversations": ["*"]}]}, "exactly one of"),
        ({"keys": [{"key": "short", "conversations": ["*"]}]}, "at least 16"),
        ({"keys": [{"key_sha256": "zz", "conversations": ["*"]}]}, "64 hexadecimal"),
        ({"keys": [{"key": KEY, "conversations": []}]}, "non-empty list"),
        ({"keys": [{"key": KEY, "conversations": ["*"], "role": "admin"}]}, "'role'"),
        ({"keys": [{"key": KEY, "conversations": ["*"], "colour": 1}]}, "unknown field"),
        (
            {"keys": [{"key": KEY, "conversations": ["*"]}, {"key": KEY, "conversations": ["*"]}]},
            "same key",
        ),
    ],
)
def test_bad_tables_are_refused_without_echoing_keys(table: object, fragment: str) -> None:
    with pytest.raises(KeysFileError) as raised:
        KeyRing.from_table(table)
    assert fragment in str(raised.value)
    assert KEY not in str(raised.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError, match="cannot read"):
        load_keys(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("keys = [")
    with pytest.raises(KeysFileError, match="not valid TOML"):
        load_keys(bad)


@pytest.mark.parametrize(
    ("headers", "subprotocols", "expected"),
    [
        ([(b"Authorization", b"Bearer abc")], (), "abc"),
        ([(b"authorization", b"bearer  abc ")], (), "abc"),
        ([(b"authorization", b"Basic abc")], (), None),
        ([(b"api-key", b"abc")], (), "abc"),
        ([], ("realtime", "openai-insecure-api-key.abc"), "abc"),
        ([], ("realtime",), None),
        ([(b"api-key", b"h")], ("openai-insecure-api-key.s",), "h"),
    ],
)
def test_presented_key(
    headers: list[tuple[bytes, bytes]], subprotocols: tuple[str, ...], expected: str | None
) -> None:
    assert presented_key(headers, subprotocols) == expected


def test_authenticate() -> None:
    keys = KeyRing.from_table({"keys": [{"name": "s", "key": KEY, "conversations": ["s-*"]}]})
    assert authenticate(None, [], (), "any") is ANONYMOUS
    bearer = [(b"authorization", f"Bearer {KEY}".encode())]
    assert authenticate(keys, bearer, (), "s-1").name == "s"
    for headers, conversation, status in [([], "s-1", 401), (bearer, "t-1", 403)]:
        with pytest.raises(Denied) as denied:
            authenticate(keys, headers, (), conversation)
        assert denied.value.status == status
        assert KEY.encode() not in denied.value.body()
