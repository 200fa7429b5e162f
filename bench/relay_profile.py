"""Benchmark helper: run `python -m maild ...` with cProfile on its event-loop thread between two SIGUSR1s.

Not maild code, and not for CPU figures (the profiler costs CPU of its own):
bench/relay.py --profile runs the daemon through it in an untimed run of its
own. The first SIGUSR1 starts the profiler on the main thread (the event loop:
sessions, intake checks, delivery); the second stops it and writes the pstats
file MAILD_PROFILE (the writer thread's SQL is what --count-sql counts), and FILE.gc.json: the
collections meanwhile (count and seconds per generation), modules and objects.
Usage: MAILD_PROFILE=FILE python bench/relay_profile.py -m maild run ...
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import time
import runpy
import signal
import sys

OUT = os.environ["MAILD_PROFILE"]
profiler = cProfile.Profile()
state = [0]
collections: dict[str, list[float]] = {}  # generation -> [count, seconds], while profiling (FILE.gc.json)
_started = [0.0]


def _gc_watch(phase: str, info: dict[str, int]) -> None:
    if state[0] != 1:
        return
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        entry = collections.setdefault(str(info["generation"]), [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - _started[0]


def toggle(signum: int, frame: object) -> None:
    state[0] += 1
    if state[0] == 1:
        profiler.enable()
    elif state[0] == 2:
        profiler.disable()
        with open(OUT + ".gc.json", "w") as f:
            json.dump({"collections": collections, "modules": len(sys.modules), "objects": len(gc.get_objects()),
                       "frozen": gc.get_freeze_count()}, f)
        profiler.dump_stats(OUT + ".tmp")
        os.replace(OUT + ".tmp", OUT)


signal.signal(signal.SIGUSR1, toggle)
gc.callbacks.append(_gc_watch)
sys.argv = ["maild", *sys.argv[3:]] if sys.argv[1:3] == ["-m", "maild"] else sys.argv
runpy.run_module("maild", run_name="__main__", alter_sys=True)
