"""Settings of one load-test run, built from the ``chorus loadtest`` command line."""

from __future__ import annotations

import argparse
import re
import secrets
from typing import Literal
from urllib.parse import urlsplit

import attrs

from service.loadtest.client import ClientKind

Dialect = Literal["beta", "ga"]

_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What ``--plot`` can write (matplotlib picks the format from the name).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


class ConfigError(ValueError):
    """The command line asks for a run that cannot be made."""


@attrs.frozen
class LoadConfig:
    """What to run: ``rate`` (open loop, creates/s in total) or ``window`` (closed loop).

    ``rate == 0`` holds idle connections for the duration without sending anything.
    """

    url: str
    conversations: int
    observers: int
    duration: float
    rate: float | None = None
    window: int | None = None
    ramp: float = 0.0
    payload_bytes: int = 64
    processes: int = 1
    json_path: str | None = None
    plot_path: str | None = None
    dialect: Dialect = "beta"
    api_key: str | None = None
    drain_timeout: float = 5.0
    connect_timeout: float = 10.0
    connect_concurrency: int = 64
    client: ClientKind = "raw"
    run_id: str = attrs.field(factory=lambda: secrets.token_hex(3))

    def __attrs_post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme
        if scheme not in ("ws", "wss"):
            raise ConfigError(f"--url must be a ws:// or wss:// URL, got {self.url!r}")
        if self.conversations < 1 or self.observers < 0:
            raise ConfigError("--conversations must be >= 1 and --observers >= 0")
        if self.duration <= 0 or self.ramp < 0 or self.payload_bytes < 0:
            raise ConfigError("--duration must be > 0, --ramp and --payload-bytes >= 0")
        if (self.rate is None) == (self.window is None):
            raise ConfigError("give exactly one of --rate and --window")
        if self.rate is not None and self.rate < 0:
            raise ConfigError("--rate must be >= 0")
        if self.window is not None and self.window < 1:
            raise ConfigError("--window must be >= 1")
        if not 1 <= self.processes <= self.conversations:
            raise ConfigError("--processes must be between 1 and --conversations")
        if self.plot_path is not None and not self.plot_path.lower().endswith(PLOT_SUFFIXES):
            raise ConfigError(f"--plot must name a .png, .svg or .pdf file, got {self.plot_path!r}")
        if not _CONVERSATION_ID.match(self.conversation_id(self.conversations - 1)):
            raise ConfigError("conversation ids would not be valid")

    @property
    def connections(self) -> int:
        return self.conversations * (1 + self.observers)

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    def conversation_id(self, index: int) -> str:
        """A conversation id unique to this run, so the server holds no history for it."""
        return f"lt{self.run_id}_{index}"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LoadConfig:
        """Build from parsed ``chorus loadtest`` flags; closed loop with window 1 by default.

        Raises ConfigError for inconsistent flags.
        """
        rate: float | None = args.rate
        window: int | None = args.window
        if rate is None and window is None:
            window = 1
        return cls(
            url=args.url,
            conversations=args.conversations,
            observers=args.observers,
            duration=args.duration,
            rate=rate,
            window=window,
            ramp=args.ramp,
            payload_bytes=args.payload_bytes,
            processes=args.processes,
            json_path=args.json,
            plot_path=args.plot,
            dialect=args.dialect,
            api_key=args.api_key,
            drain_timeout=args.drain_timeout,
            connect_timeout=args.connect_timeout,
            client=args.client,
        )
