"""Process-wide counters of what the actors did, for the metrics endpoint to export."""

import attrs


@attrs.define
class Counters:
    """Monotonic event counts; plain integers, since every writer runs on the Trio thread."""

    # Subscribers dropped because their bounded queue was full.
    slow_consumers: int = 0
    # Idle actors stopped to free their memory.
    passivations: int = 0
    # Actors started for a conversation that already had events (after passivation or restart).
    revivals: int = 0
    # Catch-up tasks started to replay history from the log to a joining subscriber.
    catch_ups: int = 0
