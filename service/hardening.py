"""The ``chorus serve`` flags for access control, limits, observability and shutdown.

Kept apart from ``cli.py`` so the core flags and these evolve without stepping on each other.
Defaults come from ``Settings``; docs/operations.md documents each one.
"""

import argparse
import ipaddress
from pathlib import Path
from typing import Any

from service.auth import load_keys
from service.config import Settings
from service.logs import LOG_FORMATS

_DEFAULTS = Settings(store_url="memory://")


def add_hardening_arguments(parser: argparse.ArgumentParser) -> None:
    d = _DEFAULTS
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="text, or json: one object a line"
    )
    parser.add_argument(
        "--api-keys",
        type=Path,
        metavar="FILE",
        help="TOML file of API keys with their conversations and roles (docs/operations.md)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without --api-keys (anyone may connect)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /healthz, /readyz and /metrics over plain HTTP on PORT (0: a free port; "
        "default: off)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=d.grace,
        metavar="SECONDS",
        help=f"graceful shutdown time on SIGTERM/SIGINT before cancelling ({d.grace:g})",
    )
    limits = parser.add_argument_group("limits (0 disables a limit)")
    for flag, kind, default, text in [
        ("--max-frame-bytes", int, d.max_message_bytes, "largest WebSocket message; close 1009"),
        ("--max-item-bytes", int, d.max_item_bytes, "largest item event; error item_too_large"),
        ("--max-items", int, d.max_items, "items per conversation"),
        ("--max-connections", int, d.max_connections, "open connections; HTTP 503 beyond"),
        ("--max-conversations", int, d.max_conversations, "conversations live in memory"),
        ("--rate-limit", float, d.rate_limit, "client events per second per connection"),
        ("--rate-burst", float, d.rate_burst, "burst allowance of the rate limit"),
        ("--handshake-timeout", float, d.handshake_timeout, "seconds to finish the handshake"),
        ("--idle-timeout", float, d.idle_timeout, "seconds without traffic; close 4001"),
        ("--ping-interval", float, d.ping_interval, "seconds between keepalive pings"),
        ("--ping-timeout", float, d.ping_timeout, "seconds to wait for a pong; close 1011"),
        (
            "--write-stall-timeout",
            float,
            d.write_stall_timeout,
            "seconds a write may block on a peer that reads nothing; then cut (1006)",
        ),
    ]:
        limits.add_argument(
            flag, type=kind, default=default, metavar="N", help=f"{text} ({default:g})"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hardening_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings fields these flags give; raises ValueError (KeysFileError) with the reason."""
    numbers = {
        "max_message_bytes": args.max_frame_bytes,
        "max_item_bytes": args.max_item_bytes,
        "max_items": args.max_items,
        "max_connections": args.max_connections,
        "max_conversations": args.max_conversations,
        "rate_limit": args.rate_limit,
        "rate_burst": args.rate_burst,
        "handshake_timeout": args.handshake_timeout,
        "idle_timeout": args.idle_timeout,
        "ping_interval": args.ping_interval,
        "ping_timeout": args.ping_timeout,
        "write_stall_timeout": args.write_stall_timeout,
        "grace": args.grace,
    }
    for name, value in numbers.items():
        if value < 0:
            raise ValueError(f"--{name.replace('_', '-')} must not be negative")
    if args.max_frame_bytes == 0:
        raise ValueError("--max-frame-bytes must be positive")
    if args.handshake_timeout == 0:
        raise ValueError("--handshake-timeout must be positive")
    if args.rate_limit and args.rate_burst < 1:
        raise ValueError("--rate-burst must be at least 1")
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        raise ValueError(f"--http-port must be between 0 and 65535, not {args.http_port}")
    keys = load_keys(args.api_keys) if args.api_keys is not None else None
    if keys is None and not args.insecure and not is_loopback(args.host):
        raise ValueError(
            f"refusing to listen on {args.host!r} without access control: anyone who can reach "
            "it could read and write every conversation. Pass --api-keys FILE, bind a loopback "
            "address, or pass --insecure to accept the risk."
        )
    return {**numbers, "api_keys": keys, "http_port": args.http_port}


def ops_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/metrics"
