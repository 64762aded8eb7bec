"""The ``chorus`` command: ``chorus serve`` runs the server (``chorus loadtest`` drives one)."""

import argparse
import sys
from collections.abc import Sequence

import trio

from actors.store import StoreError, StoreURLError
from actors.store.url import check_store_url, default_store_url
from service import gctune
from service.app import listening_url, serve
from service.config import Settings
from service.hardening import add_hardening_arguments, hardening_settings, ops_url
from service.logs import configure_logging
from service.shutdown import ServerControl, stop_on_signals


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
        "--passivate-after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop a conversation's actor after this long without connections; the next "
        "connection reloads it from the log (60)",
    )
    serve_parser.add_argument("--log-level", default="INFO", help="logging level (INFO)")
    add_hardening_arguments(serve_parser)
    serve_parser.set_defaults(func=run_serve)
    try:
        from service.loadtest import add_subcommand
    except ImportError:  # pragma: no cover - the load generator is optional at runtime
        pass
    else:
        add_subcommand(commands)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Raises StoreURLError for a store URL of an unknown form, ValueError for a bad flag, and
    KeysFileError for an unreadable keys file."""
    store_url = args.store or default_store_url()
    check_store_url(store_url)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, not {args.port}")
    if args.subscriber_queue < 1:
        raise ValueError("--subscriber-queue must be at least 1")
    if not args.passivate_after >= 0:
        raise ValueError("--passivate-after must be a non-negative number of seconds")
    return Settings(
        host=args.host,
        port=args.port,
        store_url=store_url,
        store_is_default=args.store is None,
        subscriber_queue=args.subscriber_queue,
        passivate_after=args.passivate_after,
        **hardening_settings(args),
    )


def run_serve(args: argparse.Namespace) -> int:
    try:
        configure_logging(args.log_level, args.log_format)
        settings = settings_from_args(args)
    except (StoreURLError, ValueError) as exc:
        print(f"chorus: error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        control = ServerControl(settings.grace)
        async with trio.open_nursery() as nursery:
            await nursery.start(stop_on_signals, control)

            async def run_server(task_status: trio.TaskStatus[int]) -> None:
                await serve(settings, control, task_status=task_status)
                nursery.cancel_scope.cancel()  # stopped gracefully: stop watching signals

            port = await nursery.start(run_server)
            print(f"chorus listening on {listening_url(settings.host, port)}", flush=True)
            if control.http_port is not None:
                print(
                    f"chorus operations on {ops_url(settings.host, control.http_port)}", flush=True
                )

    gctune.tune_garbage_collector()
    try:
        trio.run(main)
    except (StoreError, OSError, BaseExceptionGroup) as raised:
        # The signal watcher's nursery wraps a startup failure in a group of one.
        failure = sole_exception(raised)
        if isinstance(failure, StoreError):
            print(f"chorus: error: {failure}", file=sys.stderr)
            return 2
        if isinstance(failure, OSError):
            print(
                f"chorus: error: cannot listen on {settings.host}:{settings.port}: {failure}",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        return 0
    return 0


def sole_exception(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (``exc`` itself otherwise)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def entry_point() -> None:
    sys.exit(main())
