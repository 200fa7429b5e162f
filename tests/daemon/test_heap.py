"""settle_heap: what start-up built leaves the collector's generations, and what comes later is still collected."""

from __future__ import annotations

import gc
import weakref

from maild.daemon import settle_heap


class Node:
    pass


def test_start_up_objects_are_frozen_and_later_cycles_still_collected() -> None:
    kept = [Node() for _ in range(100)]  # stands for what start-up built
    try:
        settle_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert all(gc.is_tracked(node) for node in kept)
        later = Node()
        later.me = later  # type: ignore[attr-defined]  # a cycle only the collector frees
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
