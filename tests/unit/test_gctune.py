"""The collector settings the server and the load generator run with (each in a process of its own:
they change the whole process)."""

import subprocess
import sys
import textwrap

from service import gctune


def run_script(script: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_tuning_freezes_what_exists_and_raises_the_thresholds() -> None:
    script = """
        import gc; from service import gctune; gctune.tune_garbage_collector()
        print(gc.get_threshold(), gc.get_freeze_count() > 0)
    """
    assert run_script(script) == f"{gctune.GC_THRESHOLDS} True"


def test_what_survives_a_collection_is_frozen_and_still_freed_by_reference_counting() -> None:
    script = """
        import gc, weakref
        from service import gctune

        class Node: pass

        gctune.tune_garbage_collector()
        kept = [Node() for _ in range(20_000)]
        probe = weakref.ref(kept[0])
        gc.collect(0)
        young = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
        print(sum(id(o) in young for o in kept), gc.get_freeze_count() >= 20_000)
        del kept
        print(probe() is None)
    """
    assert run_script(script).splitlines() == ["0 True", "True"]


def test_frozen_reference_cycles_are_freed_once_the_frozen_heap_has_grown() -> None:
    script = """
        import gc, weakref
        import trio
        from service import gctune

        class Node: pass

        gctune.FULL_MINIMUM = 10_000
        gctune.CHECK_INTERVAL = 0.01
        gctune.tune_garbage_collector()
        cycles = []
        for _ in range(5_000):
            node = Node()
            node.me = node
            cycles.append(node)
        probe = weakref.ref(cycles[0])
        gc.collect(0)  # the cycles are alive: frozen
        del cycles, node
        gc.collect(0)
        frozen_cycle_survived = probe() is not None

        async def main():
            async with trio.open_nursery() as nursery:
                await nursery.start(gctune.collect_on_schedule)
                # The frozen heap more than doubles: a full collection is due.
                grown = [Node() for _ in range(gc.get_freeze_count() + 20_000)]
                gc.collect(0)
                with trio.fail_after(10):
                    while probe() is not None:
                        await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
                return len(grown) > 0

        print(frozen_cycle_survived, trio.run(main), probe() is None)
    """
    assert run_script(script) == "True True True"
