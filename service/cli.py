"""The ``chorus`` command: ``chorus serve`` runs the server (``chorus loadtest`` drives one)."""

import argparse
import logging
import sys
from collections.abc import Sequence

import trio

from actors.store import StoreError, StoreURLError
from actors.store.url import check_store_url, default_store_url
from service.app import listening_url, serve
from service.config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chorus",
        description="Event-sourced WebSocket server for OpenAI Realtime conversations.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="run the server")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve_parser.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 picks a free one (8000)"
    )
    serve_parser.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help=f"event store: sqlite:///PATH or memory:// (default: {default_store_url()})",
    )
    serve_parser.add_argument(
        "--subscriber-queue",
        type=int,
        default=1024,
        metavar="N",
        help="events queued per connection before it is closed as a slow consumer (1024)",
    )
    serve_parser.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop a conversation's actor after this long without connections; the next "
        "connection reloads it from the log (60)",
    )
    serve_parser.add_argument("--log-level", default="INFO", help="logging level (INFO)")
    serve_parser.set_defaults(func=run_serve)
    try:
        from service.loadtest import add_subcommand
    except ImportError:  # pragma: no cover - the load generator is optional at runtime
        pass
    else:
        add_subcommand(commands)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Raises StoreURLError for a store URL of an unknown form."""
    store_url = args.store or default_store_url()
    check_store_url(store_url)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, not {args.port}")
    if args.subscriber_queue < 1:
        raise ValueError("--subscriber-queue must be at least 1")
    if not args.idle_timeout >= 0:
        raise ValueError("--idle-timeout must be a non-negative number of seconds")
    return Settings(
        host=args.host,
        port=args.port,
        store_url=store_url,
        store_is_default=args.store is None,
        subscriber_queue=args.subscriber_queue,
        idle_timeout=args.idle_timeout,
    )


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = settings_from_args(args)
    except (StoreURLError, ValueError) as exc:
        print(f"chorus: error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve, settings)
            print(f"chorus listening on {listening_url(settings.host, port)}", flush=True)

    try:
        trio.run(main)
    except StoreError as exc:
        print(f"chorus: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"chorus: error: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def entry_point() -> None:
    sys.exit(main())
