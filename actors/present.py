"""Building JSON-ready dicts that leave out absent (None) fields, as the wire and the log do."""

from collections.abc import Iterable
from typing import Any


def put_present(target: dict[str, Any], fields: Iterable[tuple[str, object]]) -> dict[str, Any]:
    """Add each ``(name, value)`` of ``fields`` whose value is not None to ``target``; return it."""
    for name, value in fields:
        if value is not None:
            target[name] = value
    return target
