"""The per-connection session object: its first shape per dialect, and ``session.update`` merging.

Chorus generates no responses, so session settings change nothing it does. It still keeps what a
client sets (only for that connection) and echoes it in ``session.updated``, so clients that
configure a session before their first item work unchanged. Top-level field names are checked per
dialect (unknown -> ``unknown_parameter``); values are stored as sent.
"""

from typing import Any

from service.protocol import errors
from service.protocol.dialects import Dialect
from service.protocol.errors import ProtocolError

# The fields each dialect's session.update accepts (from the official SDK's models).
UPDATABLE_FIELDS: dict[Dialect, frozenset[str]] = {
    Dialect.BETA: frozenset(
        {
            "client_secret",
            "input_audio_format",
            "input_audio_noise_reduction",
            "input_audio_transcription",
            "instructions",
            "max_response_output_tokens",
            "modalities",
            "model",
            "output_audio_format",
            "speed",
            "temperature",
            "tool_choice",
            "tools",
            "tracing",
            "turn_detection",
            "voice",
        }
    ),
    Dialect.GA: frozenset(
        {
            "type",
            "audio",
            "include",
            "instructions",
            "max_output_tokens",
            "model",
            "output_modalities",
            "parallel_tool_calls",
            "prompt",
            "reasoning",
            "tool_choice",
            "tools",
            "tracing",
            "truncation",
        }
    ),
}
GA_SESSION_TYPES = ("realtime",)


def initial_session(dialect: Dialect, session_id: str, model: str) -> dict[str, Any]:
    """The session object of ``session.created`` for a new connection."""
    if dialect is Dialect.GA:
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": model,
            "output_modalities": ["text"],
        }
    return {"id": session_id, "object": "realtime.session", "model": model, "modalities": ["text"]}


def check_update(dialect: Dialect, update: dict[str, Any]) -> ProtocolError | None:
    """Why ``update`` (the ``session`` of a ``session.update``) is refused, or None."""
    for name in sorted(update):
        if name not in UPDATABLE_FIELDS[dialect]:
            return errors.unknown_parameter(f"session.{name}")
    if dialect is Dialect.GA:
        if "type" not in update:
            return errors.missing_parameter("session.type")
        kind = update["type"]
        if not isinstance(kind, str):
            return errors.invalid_type("session.type", "a string", kind)
        if kind not in GA_SESSION_TYPES:
            return errors.invalid_value(kind, GA_SESSION_TYPES, "session.type")
    return None


def merged(session: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``session`` with ``update`` applied: nested objects merge, everything else is replaced."""
    result = dict(session)
    for name, value in update.items():
        current = result.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            result[name] = merged(current, value)
        else:
            result[name] = value
    return result
