"""The memory service with cached searches: every write for a user invalidates the user's."""

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter

from ...ingest.model import Delivery, JobQueue
from ..domain import MemoryBackend, MemoryItem, MetadataValue, NewExpiry
from ..service import MemoryService, fingerprint
from .store import COUNTERS, CacheStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOOKUPS = Counter(  # served at /metrics
    "memory_search_cache_lookups_total",
    "Search cache lookups, by result: hit, miss, or error (the cache was unavailable).",
    ["result"],
)
# The stats route's counters, as the metric labels them.
_LOOKUP_RESULTS = {"hits": "hit", "misses": "miss", "errors": "error"}


def _encode(items: list[MemoryItem]) -> bytes:
    return json.dumps([dataclasses.asdict(item) for item in items]).encode()


def _decode(raw: bytes) -> list[MemoryItem]:
    return [MemoryItem(**item) for item in json.loads(raw)]


class _Unavailable:
    """What a cache call returns instead of raising: the cache failed, go uncached."""


UNAVAILABLE = _Unavailable()


class CachingMemoryService(MemoryService):
    """MemoryService whose searches are cached and whose writes invalidate the user's cache."""

    def __init__(
        self, backend: MemoryBackend, queue: JobQueue, store: CacheStore, *, list_max: int
    ) -> None:
        super().__init__(backend, queue, list_max=list_max)
        self.cache = store

    async def _safely(self, action: str, call: Awaitable[T]) -> T | _Unavailable:
        try:
            return await call
        except Exception as exc:  # any cache failure degrades to uncached, never to an error
            logger.warning("memory cache unavailable (%s): %s; serving uncached", action, exc)
            return UNAVAILABLE

    async def _count(self, counter: str) -> None:
        LOOKUPS.labels(_LOOKUP_RESULTS[counter]).inc()
        try:
            await self.cache.count(counter)
        except Exception:  # counting is best effort; the failure itself is logged elsewhere
            logger.debug("could not count a cache %s", counter)

    async def cache_counters(self) -> dict[str, int]:
        counters = await self._safely("stats", self.cache.counters())
        return dict.fromkeys(COUNTERS, 0) if isinstance(counters, _Unavailable) else counters

    async def search_memories(
        self,
        user_id: str,
        query: str,
        limit: int = 5,
        filters: dict[str, MetadataValue] | None = None,
    ) -> list[MemoryItem]:
        generation = await self._safely("read", self.cache.generation(user_id))
        if isinstance(generation, _Unavailable):
            await self._count("errors")
            return await super().search_memories(user_id, query, limit, filters)
        digest = fingerprint("search", [query, limit, filters or {}])
        key = f"{user_id}:{generation}:{digest}"
        cached = await self._safely("read", self.cache.get(key))
        if isinstance(cached, _Unavailable):
            await self._count("errors")
            return await super().search_memories(user_id, query, limit, filters)
        if cached is not None:
            await self._count("hits")
            return _decode(cached)
        await self._count("misses")
        results = await super().search_memories(user_id, query, limit, filters)
        await self._safely("write", self.cache.set(key, _encode(results)))
        return results

    async def _write(self, user_id: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        finally:
            # Bump after the write (even a failed one may have stored part of it): a search
            # between an early bump and the end of the write could cache stale results.
            bumped = await self._safely("invalidate", self.cache.bump(user_id))
            if isinstance(bumped, _Unavailable):
                # Entries cached before this write then live out their TTL.
                logger.error("could not invalidate the memory cache of user %s", user_id)

    async def store_job(self, delivery: Delivery) -> list[str] | None:
        parent = super().store_job
        return await self._write(delivery.user_id, lambda: parent(delivery))

    async def add_user_preference(
        self,
        user_id: str,
        preference: str,
        category: str = "general",
        idempotency_key: str | None = None,
        expires_at: str | None = None,
    ) -> tuple[MemoryItem, bool]:
        parent = super().add_user_preference
        return await self._write(
            user_id, lambda: parent(user_id, preference, category, idempotency_key, expires_at)
        )

    async def update_memory(
        self,
        user_id: str,
        memory_id: str,
        text: str | None,
        metadata: dict[str, MetadataValue] | None,
        expiry: NewExpiry | None = None,
    ) -> MemoryItem:
        parent = super().update_memory
        return await self._write(
            user_id, lambda: parent(user_id, memory_id, text, metadata, expiry)
        )

    async def delete_memories(self, user_id: str, memory_ids: list[str]) -> int:
        parent = super().delete_memories
        return await self._write(user_id, lambda: parent(user_id, memory_ids))

    async def forget_user(self, user_id: str) -> int:
        parent = super().forget_user
        return await self._write(user_id, lambda: parent(user_id))

    async def close(self) -> None:
        await asyncio.gather(super().close(), self._safely("close", self.cache.close()))
