"""Per-connection limits: the rate limit token bucket, item size; codes for keepalive closes.

Every limit answers with a documented ``error`` code (the connection stays) or close code:

    frame larger than --max-frame-bytes          close 1009 (trio-websocket)
    item event larger than --max-item-bytes      error item_too_large
    more than --max-items in a conversation      error conversation_item_limit_reached
    above --rate-limit messages per second       error rate_limit_exceeded
    observer sends a write                       error observer_cannot_write
    no pong within --ping-timeout                close 1011
    nothing sent or received for --idle-timeout  close 4001

The last two are enforced by service/keepalive.py, one task for all connections.
"""

from collections.abc import Callable

import trio

from service.protocol.errors import ProtocolError

CLOSE_KEEPALIVE_TIMEOUT = 1011
CLOSE_IDLE_TIMEOUT = 4001
CLOSE_MESSAGE_TOO_BIG = 1009


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``take`` spends one if there is one."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = trio.current_time
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def rate_limit_exceeded(rate: float, burst: float) -> ProtocolError:
    return ProtocolError(
        "rate_limit_exceeded",
        f"Rate limit exceeded: at most {rate:g} events per second (bursts of {burst:g}) per "
        "connection. The event was not processed; retry later.",
    )


def item_too_large(size: int, maximum: int) -> ProtocolError:
    return ProtocolError(
        "item_too_large",
        f"The event is {size} characters long; items may be at most {maximum}.",
        "item",
    )


def observer_cannot_write() -> ProtocolError:
    return ProtocolError(
        "observer_cannot_write",
        "This connection is an observer: it may read the conversation but not change it.",
    )


class Activity:
    """Whether a message went either way since the keepalive last looked, and when it looked.

    A flag, not a clock read per message (2 % of a busy server's CPU): the keepalive's sweep
    stamps ``last`` when it finds the flag set, so idleness is measured to one sweep.
    """

    __slots__ = ("_touched", "last")  # one per connection

    def __init__(self) -> None:
        self.last = trio.current_time()
        self._touched = False

    def touch(self) -> None:
        self._touched = True

    def idle_since(self, now: float) -> float:
        """When the connection was last seen active, as of ``now`` (a sweep)."""
        if self._touched:
            self._touched = False
            self.last = now
        return self.last
