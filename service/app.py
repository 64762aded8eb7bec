"""The composition root: open the store, start the registry and listeners, shut down in order."""

import functools
import logging

import trio

from actors.registry import Registry
from actors.store import EventStore, StoreError, open_store
from service.config import Settings
from service.gateway import ENDPOINT, open_connection
from service.guard import Gatekeeper
from service.http import OpsEndpoints, serve_ops
from service.keepalive import Keepalive
from service.leanrecv import serve_websocket
from service.metrics import InstrumentedStore, Metrics
from service.shutdown import ServerControl

log = logging.getLogger(__name__)

READINESS_PROBE_ID = "__chorus_readyz__"


async def serve(
    settings: Settings,
    control: ServerControl | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve Chorus until cancelled or until ``control.request_stop()``; ``started(port)``.

    A stop request shuts down gracefully and then returns: the listener stops accepting, every
    connection is closed with 1001, each conversation actor serves what is queued, and the store
    commits what is queued; what is still running at the grace deadline is cancelled.
    Raises StoreURLError or StoreUnavailable (before listening) when the store cannot be opened.
    """
    control = control if control is not None else ServerControl(settings.grace)
    metrics = Metrics()
    async with open_store(settings.store_url, create_dirs=settings.store_is_default) as opened:
        store = InstrumentedStore(opened, metrics)
        async with trio.open_nursery() as service_nursery:
            registry = Registry(
                store,
                service_nursery,
                inbox_size=settings.actor_inbox,
                idle_timeout=settings.passivate_after,
                max_items=settings.max_items or None,
            )
            metrics.watch(registry)
            keepalive = Keepalive(
                ping_interval=settings.ping_interval,
                ping_timeout=settings.ping_timeout,
                idle_timeout=settings.idle_timeout,
                close_timeout=settings.handshake_timeout,
            )
            await service_nursery.start(keepalive.run)
            gatekeeper = Gatekeeper(settings, control, metrics, registry, keepalive)
            if settings.http_port is not None:
                endpoints = OpsEndpoints(metrics, functools.partial(_not_ready, store, control))
                control.http_port = await service_nursery.start(
                    serve_ops, endpoints, settings.host, settings.http_port
                )
                log.info("operations listener", extra={"http_port": control.http_port})
            async with trio.open_nursery() as handlers:
                async with trio.open_nursery() as listening:
                    port = await listening.start(
                        functools.partial(
                            serve_websocket,
                            functools.partial(
                                open_connection,
                                registry=registry,
                                settings=settings,
                                gatekeeper=gatekeeper,
                            ),
                            settings.host,
                            settings.port,
                            handler_nursery=handlers,
                            max_message_size=settings.max_message_bytes,
                            connect_timeout=settings.handshake_timeout,
                            disconnect_timeout=settings.handshake_timeout,
                        )
                    )
                    control.ws_port = port
                    log.info("listening", extra={"url": listening_url(settings.host, port)})
                    task_status.started(port)
                    await control.stop_requested.wait()
                    log.info("shutting down", extra={"grace_seconds": settings.grace})
                    listening.cancel_scope.cancel()
                # Handlers still running at the deadline are cancelled; the nursery waits for
                # the others to see their 1001 close through.
                control.limit(handlers.cancel_scope)
                await control.close_connections()
            registry.close()
            with control.within_grace() as grace:
                await registry.wait_stopped()
            if grace.cancelled_caught:
                log.warning("grace period over; cancelling what is left")
            service_nursery.cancel_scope.cancel()
    log.info("stopped")


async def _not_ready(store: EventStore, control: ServerControl) -> str | None:
    if control.draining:
        return "shutting down"
    try:
        await store.current_version(READINESS_PROBE_ID)
    except StoreError as exc:
        return f"store unavailable: {exc}"
    return None


def listening_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{port}{ENDPOINT}"
