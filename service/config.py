"""Server settings: one frozen value built from the command line."""

import attrs

from actors.store.url import default_store_url
from service.auth import KeyRing


@attrs.frozen
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    store_url: str = attrs.field(factory=default_store_url)
    # True when the store URL is the default, whose data directory Chorus may create.
    store_is_default: bool = False
    # Outbound events a connection may have queued before it counts as a slow consumer.
    subscriber_queue: int = 1024
    # Requests a conversation may have waiting before writers feel backpressure.
    actor_inbox: int = 1024
    # Seconds one write to a connection may stay blocked (its peer stopped reading) before the
    # connection is cut as a slow consumer.
    write_stall_timeout: float = 10.0
    # Seconds a conversation with no connections stays in memory before its actor stops.
    passivate_after: float = 60.0
    max_message_bytes: int = 1024 * 1024
    # -- production hardening (docs/operations.md lists each limit, its default and its code) --
    # API keys; None lets every client in as a writer (only allowed on loopback or --insecure).
    api_keys: KeyRing | None = None
    # Plain-HTTP listener for /healthz, /readyz, /metrics: None disables it, 0 picks a free port.
    http_port: int | None = None
    # Seconds a graceful shutdown may take before what is left is cancelled.
    grace: float = 10.0
    # An item-creating event longer than this (characters) is refused; 0: no limit.
    max_item_bytes: int = 512 * 1024
    # Items a conversation may hold; 0: no limit.
    max_items: int = 100_000
    # Open connections; the next handshake gets HTTP 503. 0: no limit.
    max_connections: int = 10_000
    # Conversations live in memory; a handshake for another one gets HTTP 503. 0: no limit.
    max_conversations: int = 10_000
    # Client events per second per connection (token bucket), and the burst; 0: no limit.
    rate_limit: float = 100.0
    rate_burst: float = 200.0
    # Seconds for a client to complete the WebSocket handshake, and the closing handshake.
    handshake_timeout: float = 10.0
    # Seconds without a message either way before the connection is closed (4001); 0: never.
    idle_timeout: float = 900.0
    # Seconds between keepalive pings, and to wait for the pong (else close 1011); 0: no pings.
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
