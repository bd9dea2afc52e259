"""Tuning for the long-running processes (`python -m` the package, and its worker).

Everything built at startup (the imported libraries, mem0 and its clients, the store) lives as
long as the process. Python's cyclic garbage collector would still walk all of it on every
full collection: with mem0 loaded that is a pause of 100-200 ms with the event loop stopped,
which a burst of requests triggers and every request in flight waits out. Once startup is
done, `freeze_startup_heap` moves those objects out of the collector's sight (`gc.freeze`):
later collections walk only what was allocated since. Tests, which build many apps in one
process, do not call it (frozen objects are never collected).
"""

import gc
import logging
import time

logger = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    started = time.perf_counter()
    gc.collect()  # drop startup's garbage first: frozen objects are never freed
    gc.freeze()
    logger.info(
        "startup heap frozen: %d objects in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
