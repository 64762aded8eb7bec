"""API keys: the keys file, the ways clients present a key, and what a key may do.

The keys file is TOML::

    [[keys]]
    name = "support-app"            # shown in logs and metrics; never the secret
    key = "chorus-sk-..."           # the secret itself, or instead:
    # key_sha256 = "9f86d08..."     # its SHA-256 in hex, so the file holds no secret
    role = "writer"                 # "writer" (default) or "observer"
    conversations = ["support-*", "lobby"]   # exact ids, prefixes ending in "*", or "*"

Keys are compared by SHA-256 digest with ``hmac.compare_digest``, against every entry (no early
exit), so neither the match nor its position leaks through timing. Keys are never logged.
"""

import hashlib
import hmac
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import attrs
import orjson

Role = Literal["writer", "observer"]
ROLES: tuple[Role, ...] = ("writer", "observer")
SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."


class KeysFileError(ValueError):
    """The keys file cannot be read or is not in the documented format."""


class Denied(Exception):
    """A handshake refused before the upgrade: HTTP ``status`` with a JSON error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return orjson.dumps(
            {"error": {"type": "invalid_request_error", "code": self.code, "message": self.message}}
        )


@attrs.frozen
class Principal:
    """Who is connecting: the key's name (never the key), its role, and its conversations."""

    name: str
    role: Role
    conversations: tuple[str, ...] = ("*",)

    def permits(self, conversation_id: str) -> bool:
        return any(_matches(pattern, conversation_id) for pattern in self.conversations)


ANONYMOUS = Principal("anonymous", "writer")


def _matches(pattern: str, conversation_id: str) -> bool:
    if pattern.endswith("*"):
        return conversation_id.startswith(pattern[:-1])
    return pattern == conversation_id


@attrs.frozen
class _Entry:
    digest: bytes
    principal: Principal


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@attrs.frozen
class KeyRing:
    """The keys a server accepts; build it with ``load_keys`` or ``KeyRing.from_table``."""

    entries: tuple[_Entry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, key: str) -> Principal | None:
        """Return the principal of ``key``, or None; takes the same time whichever entry matches."""
        presented = _digest(key)
        found: Principal | None = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, presented):
                found = entry.principal
        return found

    @classmethod
    def from_table(cls, table: object, *, source: str = "keys file") -> "KeyRing":
        """Build a key ring from the parsed TOML document; raises KeysFileError."""
        if not isinstance(table, dict) or not isinstance(table.get("keys"), list):
            raise KeysFileError(f"{source}: expected a list of [[keys]] tables")
        entries: list[_Entry] = []
        names: set[str] = set()
        for index, raw in enumerate(table["keys"]):
            where = f"{source}: keys[{index}]"
            if not isinstance(raw, dict):
                raise KeysFileError(f"{where}: expected a table")
            unknown = set(raw) - {"name", "key", "key_sha256", "role", "conversations"}
            if unknown:
                raise KeysFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            name = raw.get("name", f"key-{index}")
            role = raw.get("role", "writer")
            conversations = raw.get("conversations")
            if not isinstance(name, str) or not name or name in names:
                raise KeysFileError(f"{where}: 'name' must be a unique, non-empty string")
            names.add(name)
            if role not in ROLES:
                raise KeysFileError(f"{where}: 'role' must be 'writer' or 'observer'")
            if (
                not isinstance(conversations, list)
                or not conversations
                or not all(isinstance(p, str) and p for p in conversations)
            ):
                raise KeysFileError(
                    f"{where}: 'conversations' must be a non-empty list of ids or prefixes like "
                    "'support-*'"
                )
            entries.append(
                _Entry(_entry_digest(raw, where), Principal(name, role, tuple(conversations)))
            )
        if not entries:
            raise KeysFileError(f"{source}: defines no keys")
        digests = [entry.digest for entry in entries]
        if len(set(digests)) != len(digests):
            raise KeysFileError(f"{source}: the same key appears twice")
        return cls(tuple(entries))


def _entry_digest(raw: dict[str, object], where: str) -> bytes:
    key, hashed = raw.get("key"), raw.get("key_sha256")
    if (key is None) == (hashed is None):
        raise KeysFileError(f"{where}: give exactly one of 'key' and 'key_sha256'")
    if key is not None:
        if not isinstance(key, str) or len(key) < 16:
            raise KeysFileError(f"{where}: 'key' must be a string of at least 16 characters")
        return _digest(key)
    try:
        assert isinstance(hashed, str)
        digest = bytes.fromhex(hashed)
    except (AssertionError, ValueError):
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        raise KeysFileError(f"{where}: 'key_sha256' must be 64 hexadecimal characters")
    return digest


def load_keys(path: Path) -> KeyRing:
    """Read the TOML keys file at ``path``; raises KeysFileError (the message names no key)."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeysFileError(f"cannot read keys file {str(path)!r}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KeysFileError(f"keys file {str(path)!r} is not valid TOML: {exc}") from exc
    return KeyRing.from_table(table, source=str(path))


def presented_key(
    headers: Iterable[tuple[bytes, bytes]], subprotocols: Sequence[str]
) -> str | None:
    """The key a client sent: ``Authorization: Bearer``, ``api-key``, or the browser subprotocol."""
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1").strip()
        if name == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == "api-key" and value:
            return value
    for subprotocol in subprotocols:
        if subprotocol.startswith(SUBPROTOCOL_KEY_PREFIX):
            return subprotocol.removeprefix(SUBPROTOCOL_KEY_PREFIX) or None
    return None


def authenticate(
    keys: KeyRing | None,
    headers: Iterable[tuple[bytes, bytes]],
    subprotocols: Sequence[str],
    conversation_id: str,
) -> Principal:
    """Return who may join ``conversation_id``; raises Denied (401 or 403).

    Without a key ring every client is the anonymous writer.
    """
    if keys is None:
        return ANONYMOUS
    key = presented_key(headers, subprotocols)
    if key is None:
        raise Denied(
            401,
            "missing_api_key",
            "You didn't provide an API key. Send it as 'Authorization: Bearer KEY', in the "
            "'api-key' header, or as the subprotocol 'openai-insecure-api-key.KEY'.",
        )
    principal = keys.lookup(key)
    if principal is None:
        raise Denied(401, "invalid_api_key", "Incorrect API key provided.")
    if not principal.permits(conversation_id):
        raise Denied(
            403,
            "conversation_forbidden",
            f"This API key may not access conversation '{conversation_id}'.",
        )
    return principal
