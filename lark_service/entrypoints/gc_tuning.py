"""The garbage collector set for a long-running server process.

Measured under load (``bench/service.py``), CPython's default collector cost the HTTP server
about a fifth of its CPU per request. Two causes, two settings:

* The first generation is collected every 700 net allocations of container objects. With
  dozens of requests in flight, their live objects alone pass that mark many times a second:
  each collection finds nothing to free, and pushes those still-live objects on to the older
  generations, whose collections then come sooner. A threshold of 10,000 sits above what the
  requests in flight hold, so collections happen when there is garbage.
* Every full collection walks the whole heap, and most of the heap is what start-up built
  (the web framework's routes and OpenAPI models, SQLAlchemy, the templates), which lives as
  long as the process. `gc.freeze` moves it out of the collector's sight once the server
  listens; it is still freed by reference counting.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000


@contextmanager
def server_gc() -> Iterator[None]:
    """Inside: the collector tuned for serving; the settings before are restored on exit.

    Enter it once start-up is done. Only the process's main thread tunes the collector: a
    server run in a thread (tests) shares its process and leaves the collector alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = gc.get_threshold()
    gc.collect()  # what start-up left as garbage, so that it is not frozen
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
