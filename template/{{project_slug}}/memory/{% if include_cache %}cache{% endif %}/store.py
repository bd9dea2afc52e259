"""Where cached searches live: in this process, or in Redis (shared by every process)."""

import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

import redis.asyncio as redis

from .settings import CacheSettings

COUNTERS = ("hits", "misses", "errors")


class CacheStore(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def generation(self, user_id: str) -> int: ...

    async def bump(self, user_id: str) -> None: ...

    async def count(self, counter: str) -> None: ...

    async def counters(self) -> dict[str, int]: ...

    async def close(self) -> None: ...


class InProcessStore:
    """A bounded LRU with expiry, for a single worker."""

    name = "in-process"

    def __init__(
        self, ttl_seconds: int, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: Counter[str] = Counter()
        self._counters: Counter[str] = Counter()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def generation(self, user_id: str) -> int:
        return self._generations[user_id]

    async def bump(self, user_id: str) -> None:
        self._generations[user_id] += 1

    async def count(self, counter: str) -> None:
        self._counters[counter] += 1

    async def counters(self) -> dict[str, int]:
        return {name: self._counters[name] for name in COUNTERS}

    async def close(self) -> None:
        self._entries.clear()


class RedisStore:
    """Entries, generations and counters in Redis, shared by every worker and replica."""

    name = "redis"
    _PREFIX = "memcache:"

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._PREFIX + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes) -> None:
        await self._redis.set(self._PREFIX + key, value, ex=self._ttl)

    async def generation(self, user_id: str) -> int:
        value = await self._redis.get(f"{self._PREFIX}gen:{user_id}")
        return int(value or 0)

    async def bump(self, user_id: str) -> None:
        # The generation outlives every entry written under it; should it lapse later, the
        # count restarts at 0 when all entries of earlier generations have expired too.
        key = f"{self._PREFIX}gen:{user_id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._ttl * 2)
            await pipe.execute()

    async def count(self, counter: str) -> None:
        # redis-py types its commands for both its clients (`Awaitable[int] | int`).
        await cast("Awaitable[int]", self._redis.hincrby(f"{self._PREFIX}stats", counter, 1))

    async def counters(self) -> dict[str, int]:
        stats = self._redis.hgetall(f"{self._PREFIX}stats")
        raw = await cast("Awaitable[dict[bytes, bytes]]", stats)
        values = {_text(key): int(value) for key, value in raw.items()}
        return {name: values.get(name, 0) for name in COUNTERS}

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def build_cache_store(settings: CacheSettings) -> CacheStore:
    """Redis when REDIS_URL is set, else this process."""
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.search_cache_ttl_seconds)
    return InProcessStore(settings.search_cache_ttl_seconds, settings.search_cache_max_entries)
