"""The collector settings the server and the load generator run with (in a process of its own)."""

import subprocess
import sys

from service import gctune


def test_tuning_freezes_what_exists_and_raises_the_thresholds() -> None:
    script = (
        "import gc; from service import gctune; gctune.tune_garbage_collector();"
        " print(gc.get_threshold(), gc.get_freeze_count() > 0)"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == f"{gctune.GC_THRESHOLDS} True"
