"""Protocol errors: the ``error`` payloads Chorus sends, in the real service's codes and words."""

from collections.abc import Sequence

import attrs

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


@attrs.frozen
class ProtocolError:
    """What goes in the ``error`` object of an ``error`` event (less the client's event id)."""

    code: str
    message: str
    param: str | None = None
    type: str = INVALID_REQUEST


def quote_list(values: Sequence[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b', and 'c'``: the real service's way of listing values."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def describe_json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case float():
            return "a decimal"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
    return "an unknown type"


def invalid_json(detail: str) -> ProtocolError:
    return ProtocolError(
        "invalid_json",
        f"The server could not parse the JSON of the event you sent: {detail}. "
        "Events must be JSON objects sent as text frames.",
    )


def invalid_event(message: str) -> ProtocolError:
    return ProtocolError("invalid_event", message)


def invalid_value(value: object, allowed: Sequence[str], param: str) -> ProtocolError:
    shown = value if isinstance(value, str) else repr(value)
    return ProtocolError(
        "invalid_value",
        f"Invalid value: '{shown}'. Supported values are: {quote_list(allowed)}.",
        param,
    )


def invalid_type(param: str, expected: str, value: object) -> ProtocolError:
    return ProtocolError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, "
        f"but got {describe_json_type(value)} instead.",
        param,
    )


def missing_parameter(param: str) -> ProtocolError:
    return ProtocolError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param
    )


def unknown_parameter(param: str) -> ProtocolError:
    return ProtocolError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def string_too_long(param: str, maximum: int, length: int) -> ProtocolError:
    return ProtocolError(
        "string_above_max_length",
        f"Invalid '{param}': string too long. Expected a string with maximum length {maximum}, "
        f"but got a string with length {length} instead.",
        param,
    )


def below_minimum(param: str, minimum: int, value: int) -> ProtocolError:
    return ProtocolError(
        "integer_below_min_value",
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {value} instead.",
        param,
    )


UNSUPPORTED_EVENT = "unsupported_event"


def unsupported_event(type_name: str, supported: Sequence[str]) -> ProtocolError:
    """Chorus keeps conversations; it has no model to answer and no audio pipeline."""
    return ProtocolError(
        UNSUPPORTED_EVENT,
        f"Chorus stores and relays conversations but does not generate responses or process "
        f"audio, so '{type_name}' is not supported. Supported events: {quote_list(supported)}.",
        "type",
    )


def resume_unavailable(message: str, param: str) -> ProtocolError:
    """The connection cannot resume where it asked; ``param`` is the query parameter at fault."""
    return ProtocolError(
        "resume_position_unavailable",
        f"{message} Reconnect without 'after' and 'log' to receive the whole conversation.",
        param,
    )


def server_error() -> ProtocolError:
    """Handling the event failed on our side (a bug, logged); the client may send it again."""
    return ProtocolError(
        "server_error",
        "The server could not handle this event; it was not applied. This is a bug in Chorus.",
        None,
        SERVER_ERROR,
    )
