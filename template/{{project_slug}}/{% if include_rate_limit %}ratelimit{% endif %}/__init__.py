"""Rate limits per caller, in three budgets: search, writes and reads.

The limiter plugs into every API route as a dependency (`feature.py`), so the routes know
nothing of it. The budget belongs to the authenticated user (FastAPI caches `current_user_id`
per request, so the token is decoded once).

Algorithm: a fixed window from the `limits` library. The window opens at a key's first hit and
its whole budget comes back at `X-RateLimit-Reset`; each hit is one atomic step (an INCR script
in Redis) and each key one counter. The price: a caller can spend up to twice a budget across
a window boundary, acceptable for protecting capacity and model spend.

Storage: in this process when REDIS_URL is unset (each worker then counts on its own, so N
workers allow N times the budget); Redis when it is set, shared by every worker and replica.

A storage that fails (Redis down or slow) fails *open*: the request is served unlimited and a
warning is logged. Every request is still authenticated and size-limited; the limiter guards
capacity, not access, and failing closed would turn a Redis outage into an outage of the whole
API. After a failure the limiter leaves the storage alone for a few seconds, so an outage costs
neither a timeout per request nor a warning per request.

`limiter.py` counts, `settings.py` holds the budgets, `feature.py` plugs the limiter in.
"""
