"""Search results cached per user, and never stale.

A cached search is keyed by the user, the user's *generation* and a hash of the query, limit
and filters. Every write for a user (a conversation stored, a preference added, a memory
deleted, the user forgotten) bumps that user's generation once the write has finished, so the
next search misses and reads fresh results; older entries are never read again and expire.

Backends: in-process (one worker) when REDIS_URL is unset, Redis (shared by every worker and
replica) when it is set. A cache that fails never fails a request: the search is served
uncached and a warning is logged.

`store.py` keeps the entries, `service.py` wraps the memory service's searches and writes,
`router.py` serves the counters, `settings.py` holds the settings and `feature.py` plugs it
all into the app and the worker.
"""
