"""The benchmark suite's reading of a server's CPU time."""

import os
import sys
import time

import pytest

from bench.servers import cpu_seconds


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_seconds_is_the_cpu_time_the_process_used() -> None:
    before = cpu_seconds(os.getpid())
    _burn(0.3)
    used = cpu_seconds(os.getpid()) - before
    # /proc counts in clock ticks (10 ms here); sleeping or wall time would not count at all.
    assert 0.25 <= used <= 0.45
    assert abs(cpu_seconds(os.getpid()) - time.process_time()) < 0.05
