"""MemoryService: the memory operations, mode-agnostic and async.

Every operation takes the caller's user id (from authentication) and is scoped to it: the
backend only ever sees `store_user_id(user_id)` (see scope.py), never the id as written.
Writes for one user are serialized: mem0's duplicate check reads before it writes, so two
concurrent adds for the same user could both store the same fact.
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..errors import MemoryNotFoundError
from .domain import MemoryBackend, MemoryItem, Message, MetadataValue
from .scope import store_user_id

logger = logging.getLogger(__name__)

PREFERENCE = "preference"
CONVERSATION = "conversation"
RECENT_IN_SUMMARY = 5


class _UserLocks:
    """One asyncio.Lock per user id, dropped once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        async with lock:
            yield


def _newest_first(items: list[MemoryItem]) -> list[MemoryItem]:
    return sorted(items, key=lambda item: item.created_at or "", reverse=True)


class MemoryService:
    def __init__(self, backend: MemoryBackend, *, list_max: int = 1000) -> None:
        self._backend = backend
        self._list_max = list_max
        self._write_locks = _UserLocks()

    async def add_conversation(
        self,
        user_id: str,
        messages: list[Message],
        metadata: dict[str, MetadataValue] | None = None,
    ) -> list[MemoryItem]:
        """Extract memories from a conversation and store them for the user."""
        enriched: dict[str, MetadataValue] = {**(metadata or {}), "type": CONVERSATION}
        async with self._write_locks.hold(user_id):
            return await self._backend.add(store_user_id(user_id), messages, enriched, infer=True)

    async def search_memories(
        self,
        query: str,
        user_id: str,
        limit: int = 5,
        filters: dict[str, MetadataValue] | None = None,
    ) -> list[MemoryItem]:
        return await self._backend.search(store_user_id(user_id), query, limit, filters or {})

    async def add_user_preference(
        self, user_id: str, preference: str, category: str = "general"
    ) -> MemoryItem:
        """Store a preference verbatim (no extraction), tagged with its category."""
        metadata: dict[str, MetadataValue] = {"type": PREFERENCE, "category": category}
        message: Message = {"role": "user", "content": preference}
        scope = store_user_id(user_id)
        async with self._write_locks.hold(user_id):
            items = await self._backend.add(scope, [message], metadata, infer=False)
        if not items:
            raise RuntimeError("the memory store did not return the stored preference")
        return items[0]

    async def list_preferences(self, user_id: str, category: str | None = None) -> list[MemoryItem]:
        filters: dict[str, MetadataValue] = {"type": PREFERENCE}
        if category is not None:
            filters["category"] = category
        items = await self._backend.get_all(store_user_id(user_id), filters, self._list_max)
        return _newest_first(items)

    async def list_memories(self, user_id: str) -> list[MemoryItem]:
        """All of the user's memories (up to the configured cap), newest first."""
        items = await self._backend.get_all(store_user_id(user_id), {}, self._list_max)
        return _newest_first(items)

    async def get_user_summary(self, user_id: str) -> dict[str, Any]:
        memories = await self.list_memories(user_id)
        preferences: dict[str, list[str]] = defaultdict(list)
        for item in memories:
            if item.metadata.get("type") == PREFERENCE:
                preferences[str(item.metadata.get("category", "general"))].append(item.memory)
        return {
            "total_memories": len(memories),
            "preferences": dict(preferences),
            "recent_memories": memories[:RECENT_IN_SUMMARY],
        }

    async def get_memory(self, user_id: str, memory_id: str) -> MemoryItem:
        item = await self._backend.get(memory_id)
        if item is None or item.user_id != store_user_id(user_id):
            raise MemoryNotFoundError(memory_id)
        return item

    async def delete_memory(self, user_id: str, memory_id: str) -> None:
        async with self._write_locks.hold(user_id):
            await self.get_memory(user_id, memory_id)
            await self._backend.delete(memory_id)

    async def forget_user(self, user_id: str) -> int:
        """Delete everything stored for the user; returns how many memories were removed."""
        async with self._write_locks.hold(user_id):
            return await self._backend.delete_user(store_user_id(user_id))

    async def ready(self) -> str | None:
        """Raise if the store cannot serve; else None, or a warning for the readiness probe."""
        return await self._backend.ping()

    async def close(self) -> None:
        await self._backend.close()
