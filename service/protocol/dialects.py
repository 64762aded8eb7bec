"""The two wire dialects of the Realtime protocol, and how a handshake picks one.

Beta when the client sends ``OpenAI-Beta: realtime=v1`` or offers the ``openai-beta.realtime-v1``
subprotocol; GA otherwise. Browser clients cannot set headers and fail unless the server selects
one of the subprotocols they offer, so Chorus selects ``realtime`` when offered, else
``openai-beta.realtime-v1``; it never selects ``openai-insecure-api-key.<KEY>``.
"""

from collections.abc import Iterable, Sequence
from enum import StrEnum

import attrs


class Dialect(StrEnum):
    BETA = "beta"
    GA = "ga"


GA_SUBPROTOCOL = "realtime"
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
BETA_HEADER = b"openai-beta"
BETA_HEADER_VALUE = "realtime=v1"


@attrs.frozen
class Negotiated:
    """The dialect of a connection and the subprotocol to select (None: select none)."""

    dialect: Dialect
    subprotocol: str | None


def negotiate(headers: Iterable[tuple[bytes, bytes]], offered: Sequence[str]) -> Negotiated:
    """Pick the dialect and subprotocol for a handshake with ``headers`` offering ``offered``."""
    beta = BETA_SUBPROTOCOL in offered or any(
        name.lower() == BETA_HEADER and _lists_beta(value) for name, value in headers
    )
    if GA_SUBPROTOCOL in offered:
        subprotocol: str | None = GA_SUBPROTOCOL
    elif BETA_SUBPROTOCOL in offered:
        subprotocol = BETA_SUBPROTOCOL
    else:
        subprotocol = None
    return Negotiated(Dialect.BETA if beta else Dialect.GA, subprotocol)


def _lists_beta(value: bytes) -> bool:
    # The header is a comma-separated list of feature flags, e.g. "assistants=v2, realtime=v1".
    flags = value.decode("latin-1").split(",")
    return any(flag.strip().lower() == BETA_HEADER_VALUE for flag in flags)
