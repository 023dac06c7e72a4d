"""Interpreter settings for the length of a sync, when one thread parses pages and
another writes them.

Two of CPython's defaults cost a large import a good part of its time, both measured on
a 100,000-row CSV import:
- the GIL switch interval (5 ms): the writer makes a few short calls per page that each
  release the GIL (SQLite runs without it), and with the parser holding it, each call
  waited up to 5 ms to get it back;
- the cyclic garbage collector: the parser allocates a few objects per field, and every
  hundred young collections a full one walked every object in the process, the
  interpreter's own and the records of the pages in flight. Parsing ran at half speed.

While a sync runs, the switch interval is 0.2 ms, the objects that existed before the
sync are frozen out of collections (`gc.freeze`), young collections are rarer (every
50,000 allocations rather than 700: 10,000 still cost a 100,000-row CSV import 10 % of
its time), and every few pages the sync runs a full collection itself. That collection
is quick now, because it walks only what the sync holds, and it keeps a long sync's
cyclic garbage (sessions, responses) from piling up: peak memory stays flat (measured: a
200,000-invoice Xero sync peaks at 183 MB, as before). These settings are process-wide, so syncs that
overlap share them, and the last one to finish restores the previous values.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0002
GC_THRESHOLD = (50_000, 50, 1000)  # full collections: ours, every few pages
COLLECT_EVERY = 8  # pages: a full collection then walks only what the sync holds


class _BulkMode:
    def __init__(self):
        self.lock, self.running, self.pages = threading.Lock(), 0, 0
        self.saved_interval, self.saved_threshold = 0.005, gc.get_threshold()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.running == 0:
                self.saved_interval = sys.getswitchinterval()
                self.saved_threshold = gc.get_threshold()
                sys.setswitchinterval(min(SWITCH_INTERVAL, self.saved_interval))
                gc.set_threshold(*(max(a, b) for a, b in zip(GC_THRESHOLD, self.saved_threshold,
                                                             strict=True)))
                gc.freeze()
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0:
                    gc.unfreeze()
                    gc.set_threshold(*self.saved_threshold)
                    sys.setswitchinterval(self.saved_interval)

    def page_done(self) -> None:
        """Every few pages, collect: with the older objects frozen this is quick, and it
        keeps the garbage of a long sync (sessions, responses) from piling up."""
        self.pages += 1
        if self.running and self.pages % COLLECT_EVERY == 0:
            gc.collect()


bulk_mode = _BulkMode()
