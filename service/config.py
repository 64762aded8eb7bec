"""Server settings: one frozen value built from the command line."""

import attrs

from actors.store.url import default_store_url


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
    # Seconds a conversation with no connections stays in memory before its actor stops.
    idle_timeout: float = 60.0
    max_message_bytes: int = 1024 * 1024
