"""Fixed-window budgets per caller and route group, failing open when storage fails."""

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as redis
from fastapi import status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from ..errors import RETRY_AFTER_HEADER, error_response, header
from .settings import RateLimitSettings

logger = logging.getLogger(__name__)

Group = Literal["search", "writes", "reads"]

RATE_LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_429_TOO_MANY_REQUESTS: error_response(
        "Over the caller's rate limit for this route group.",
        {
            "Retry-After": RETRY_AFTER_HEADER,
            # Not required: a route's other 429s (too much pending work) do not carry them.
            "X-RateLimit-Limit": header(
                "The budget of this route group per window.", required=False
            ),
            "X-RateLimit-Remaining": header("What is left of it (0).", required=False),
            "X-RateLimit-Reset": header("Unix time when the budget comes back.", required=False),
        },
    )
}
"""The feature's `responses`: documents the 429 of every API route in the OpenAPI schema."""


def route_group(method: str, path: str) -> Group:
    """Which budget a request spends: searches cost model calls, so they get their own."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "reads"
    if method == "POST" and path.rstrip("/").endswith("/search"):
        return "search"
    return "writes"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: RateLimitItem
    remaining: int
    reset_at: float  # Unix time when the window's budget comes back

    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit.amount),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


class RateLimiter:
    """The per-group limits over one storage, failing open when the storage fails."""

    def __init__(
        self,
        limits: Mapping[Group, RateLimitItem],
        storage: Storage,
        *,
        backend: str,
        close: Callable[[], Awaitable[None]] | None = None,
        pause_after_failure: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self.backend = backend
        self._strategy = FixedWindowRateLimiter(storage)
        self._close = close
        self._pause = pause_after_failure
        self._clock = clock
        self._paused_until = float("-inf")

    async def check(self, group: Group, key: str) -> Decision | None:
        """Spend one unit of `key`'s budget for `group`; None when the storage is unavailable."""
        if self._clock() < self._paused_until:
            return None
        item = self.limits[group]
        try:
            allowed = await self._strategy.hit(item, group, key)
            stats = await self._strategy.get_window_stats(item, group, key)
        except (StorageError, OSError) as exc:  # OSError covers timeouts too
            self._paused_until = self._clock() + self._pause
            cause = exc.storage_error if isinstance(exc, StorageError) else exc
            logger.warning(
                "rate limits not enforced for the next %g s: the %s storage failed (%s)",
                self._pause,
                self.backend,
                cause,
            )
            return None
        return Decision(allowed, item, stats.remaining, stats.reset_time)

    def describe(self) -> str:
        budgets = ", ".join(f"{group} {item}" for group, item in self.limits.items())
        return f"{budgets} ({self.backend} storage)"

    async def close(self) -> None:
        if self._close is not None:
            await self._close()


def build_rate_limiter(settings: RateLimitSettings) -> RateLimiter:
    """One limiter per app (built in the lifespan): Redis when REDIS_URL is set."""
    per_group: dict[Group, RateLimitItem] = {
        "search": parse(settings.rate_limit_search),
        "writes": parse(settings.rate_limit_writes),
        "reads": parse(settings.rate_limit_reads),
    }
    if not settings.redis_url:
        return RateLimiter(per_group, MemoryStorage(), backend="in-process")
    # Our own pool, so shutdown can close it (limits' storages have no close). Short timeouts:
    # a slow Redis must not stall requests. The pool carries the real address (redis://,
    # rediss:// or unix://); the URI below only selects limits' Redis storage.
    pool = redis.ConnectionPool.from_url(
        settings.redis_url, socket_timeout=1, socket_connect_timeout=1
    )
    # limits documents `connection_pool`, but types its **options as scalars.
    options: dict[str, Any] = {"connection_pool": pool}
    storage = RedisStorage(
        "async+redis://",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix="ratelimit",
        **options,
    )
    return RateLimiter(per_group, storage, backend="redis", close=pool.aclose)
