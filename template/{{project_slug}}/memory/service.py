"""MemoryService: the memory operations, mode-agnostic and async.

Every operation takes the caller's user id (from authentication) and is scoped to it: the
backend only ever sees `store_user_id(user_id)` (see scope.py), never the id as written.
Conversations are not stored while the caller waits: `accept_conversation` puts them in the
durable job queue (see ingest/), and a worker calls `store_job`. Writes for one user are
serialized across every process that writes (the queue's `UserLocks`): mem0's duplicate
check reads before it writes, so two concurrent adds for one user could store a fact twice.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from ..errors import MemoryNotFoundError, ProviderUnavailableError
from ..ingest.model import (
    Claim,
    Delivery,
    IdempotencyKeyBusyError,
    IdempotencyKeyReusedError,
    JobQueue,
    JobState,
    NewJob,
    QueueFullError,
)
from ..observability import current_request_id
from .domain import (
    EXPIRY_KEY,
    JOB_KEY,
    HistoryEntry,
    InFlight,
    Listing,
    MemoryBackend,
    MemoryItem,
    Message,
    MetadataValue,
    NewExpiry,
    UserSummary,
)
from .scope import store_user_id

logger = logging.getLogger(__name__)

PREFERENCE = "preference"
CONVERSATION = "conversation"
RECENT_IN_SUMMARY = 5


def _newest_first(items: list[MemoryItem]) -> list[MemoryItem]:
    return sorted(items, key=lambda item: item.created, reverse=True)


def fingerprint(operation: str, body: Any) -> str:
    """A digest of a request's meaning, to tell a client's retry from a different request."""
    blob = json.dumps([operation, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _stored_key(operation: str, idempotency_key: str) -> str:
    """A client's key is per operation: the same key on two routes names two requests."""
    return f"{operation}:{idempotency_key}"


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    job: JobState
    replayed: bool


@dataclasses.dataclass(frozen=True, slots=True)
class BatchAccepted:
    """The jobs of a batch's first `len(jobs)` conversations; `refusal` says why the rest
    were not queued (None: all were). A retry with the batch's idempotency key queues them."""

    jobs: list[JobState]
    replayed: bool
    refusal: QueueFullError | ProviderUnavailableError | None


Conversation = tuple[list[Message], dict[str, MetadataValue]]


class MemoryService:
    def __init__(self, backend: MemoryBackend, queue: JobQueue, *, list_max: int = 1000) -> None:
        self._backend = backend
        self._queue = queue
        self._locks = queue.locks
        self._list_max = list_max

    @property
    def backend(self) -> MemoryBackend:
        """What the service stores through (for operators' scripts and tests that look beneath)."""
        return self._backend

    @property
    def queue(self) -> JobQueue:
        """The job queue conversations wait in."""
        return self._queue

    # --- conversations: accepted into the queue, stored by a worker ------------------------

    async def accept_conversation(
        self,
        user_id: str,
        messages: list[Message],
        metadata: dict[str, MetadataValue],
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Queue a conversation durably; with an idempotency key, a retry gets the same job."""
        job_id = uuid.uuid4().hex
        replayed = False
        if idempotency_key is not None:
            claim = await self._claim(
                user_id, "conversation", idempotency_key, [messages, metadata], job_id
            )
            if claim.state == "replay" and claim.value:
                job_id, replayed = claim.value, True
        # Idempotent on the id: a replay whose first enqueue never landed enqueues it now.
        new = NewJob(job_id, user_id, messages, metadata, request_id=current_request_id())
        job = await self._queue.enqueue(new)
        return Accepted(job, replayed)

    async def accept_conversations(
        self,
        user_id: str,
        conversations: list[Conversation],
        idempotency_key: str | None = None,
    ) -> BatchAccepted:
        """Queue several conversations, each its own job, in order. The queue may refuse
        one midway (full, or unavailable): the ones before it stay queued and the answer says
        so; with an idempotency key, a retry returns the same jobs and queues the rest."""
        job_ids = [uuid.uuid4().hex for _ in conversations]
        replayed = False
        if idempotency_key is not None:
            body = [[messages, metadata] for messages, metadata in conversations]
            claim = await self._claim(
                user_id, "conversations", idempotency_key, body, json.dumps(job_ids)
            )
            if claim.state == "replay" and claim.value:
                job_ids, replayed = json.loads(claim.value), True
        request_id = current_request_id()
        jobs: list[JobState] = []
        for job_id, (messages, metadata) in zip(job_ids, conversations, strict=True):
            new = NewJob(job_id, user_id, messages, metadata, request_id=request_id)
            try:
                jobs.append(await self._queue.enqueue(new))
            except (QueueFullError, ProviderUnavailableError) as exc:
                if not jobs:
                    raise  # nothing queued: the whole request is refused
                return BatchAccepted(jobs, replayed, exc)
        return BatchAccepted(jobs, replayed, None)

    async def _claim(
        self, user_id: str, operation: str, idempotency_key: str, body: Any, value: str | None
    ) -> Claim:
        """Claim the caller's key for this operation: `new` or `replay` (with the first
        answer); a key used with another body, or still in progress, raises."""
        claim = await self._queue.idempotency.claim(
            user_id, _stored_key(operation, idempotency_key), fingerprint(operation, body), value
        )
        if claim.state == "mismatch":
            raise IdempotencyKeyReusedError(idempotency_key)
        if claim.state == "busy":
            raise IdempotencyKeyBusyError(idempotency_key)
        return claim

    async def job(self, user_id: str, job_id: str) -> JobState | None:
        """The caller's job, or None (also for someone else's job: indistinguishable)."""
        job = await self._queue.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    async def store_job(self, delivery: Delivery) -> list[str] | None:
        """A worker's handler: store one delivered conversation, exactly once in effect.

        Returns the new memories' ids, or None when the job was cancelled meanwhile (its user
        was forgotten). A delivery after the first (a crash, an expired lease, a failed try)
        first removes whatever an earlier delivery of the same job stored, or, when that delivery
        left a write in flight at the provider, follows that write instead of repeating it.
        """
        async with self._locks.hold(delivery.user_id):
            if await self._queue.cancelled(delivery):
                return None
            scope = store_user_id(delivery.user_id)
            if delivery.attempt > 1 and delivery.pending is None:
                await self._remove_job_memories(scope, delivery.id)
            metadata: dict[str, MetadataValue] = {
                **delivery.metadata,
                "type": CONVERSATION,
                JOB_KEY: delivery.id,
            }
            in_flight = InFlight(
                delivery.pending,
                note=functools.partial(self._queue.note_pending, delivery.id),
                discard_earlier=functools.partial(self._remove_job_memories, scope, delivery.id),
            )
            stored = await self._backend.add(
                scope, delivery.messages, metadata, infer=True, in_flight=in_flight
            )
        return [item.id for item in stored]

    async def _remove_job_memories(self, scope: str, job_id: str) -> None:
        leftovers = await self._backend.get_all(
            scope, {JOB_KEY: job_id}, self._list_max, include_expired=True
        )
        for item in leftovers:
            await self._backend.delete(item.id)
        if leftovers:
            logger.info("removed %d memories of an interrupted delivery", len(leftovers))

    # --- reads -----------------------------------------------------------------------------

    async def search_memories(
        self,
        user_id: str,
        query: str,
        limit: int = 5,
        filters: dict[str, MetadataValue] | None = None,
    ) -> list[MemoryItem]:
        return await self._backend.search(store_user_id(user_id), query, limit, filters or {})

    async def _listing(
        self, user_id: str, filters: dict[str, MetadataValue], *, include_expired: bool = False
    ) -> Listing:
        """Up to `list_max` of the user's memories, newest first. One more is asked for, to
        tell a complete list from a cut one. Which memories a cut list holds is the backend's
        choice (see its `get_all`): the newest, where it can read every page, or else the
        first the store returns."""
        items = await self._backend.get_all(
            store_user_id(user_id), filters, self._list_max + 1, include_expired=include_expired
        )
        truncated = len(items) > self._list_max
        if truncated:
            logger.warning("a list was cut at MEMORY_LIST_MAX=%d", self._list_max)
        return Listing(_newest_first(items)[: self._list_max], truncated)

    async def list_preferences(self, user_id: str, category: str | None = None) -> Listing:
        filters: dict[str, MetadataValue] = {"type": PREFERENCE}
        if category is not None:
            filters["category"] = category
        return await self._listing(user_id, filters)

    async def list_memories(self, user_id: str, *, include_expired: bool = False) -> Listing:
        """The user's memories, newest first (up to MEMORY_LIST_MAX); expired ones only if
        asked for."""
        return await self._listing(user_id, {}, include_expired=include_expired)

    async def get_user_summary(self, user_id: str) -> UserSummary:
        memories = await self.list_memories(user_id)
        preferences: dict[str, list[str]] = defaultdict(list)
        for item in memories.items:
            if item.metadata.get("type") == PREFERENCE:
                preferences[str(item.metadata.get("category", "general"))].append(item.memory)
        return UserSummary(
            total_memories=len(memories.items),
            truncated=memories.truncated,
            preferences=dict(preferences),
            recent_memories=memories.items[:RECENT_IN_SUMMARY],
        )

    async def get_memory(self, user_id: str, memory_id: str) -> MemoryItem:
        item = await self._backend.get(memory_id)
        if item is None or item.user_id != store_user_id(user_id):
            raise MemoryNotFoundError(memory_id)
        return item

    @property
    def export_ceiling(self) -> int | None:
        """The most memories an export can read for one user (None: every one)."""
        return self._backend.export_ceiling

    async def export(self, user_id: str) -> AsyncIterator[tuple[MemoryItem, list[HistoryEntry]]]:
        """Every memory of the caller with its history, a page at a time."""
        async for entry in self._backend.export(store_user_id(user_id)):
            yield entry

    # --- synchronous writes ----------------------------------------------------------------

    async def add_user_preference(
        self,
        user_id: str,
        preference: str,
        category: str = "general",
        idempotency_key: str | None = None,
        expires_at: str | None = None,
    ) -> tuple[MemoryItem, bool]:
        """Store a preference verbatim (no extraction), tagged with its category.

        Returns the memory and whether it is the replayed answer of an earlier request with
        the same idempotency key.
        """
        key = _stored_key("preferences", idempotency_key) if idempotency_key is not None else None
        if idempotency_key is not None:
            body = [preference, category, *([expires_at] if expires_at is not None else [])]
            claim = await self._claim(user_id, "preferences", idempotency_key, body, None)
            if claim.state == "replay" and claim.value:
                return MemoryItem(**json.loads(claim.value)), True
        try:
            item = await self._store_preference(user_id, preference, category, expires_at)
        except BaseException:
            if key is not None:  # nothing was stored: the client may try again with the key
                await self._queue.idempotency.release(user_id, key)
            raise
        if key is not None:
            await self._queue.idempotency.settle(user_id, key, json.dumps(dataclasses.asdict(item)))
        return item, False

    async def _store_preference(
        self, user_id: str, preference: str, category: str, expires_at: str | None
    ) -> MemoryItem:
        metadata: dict[str, MetadataValue] = {"type": PREFERENCE, "category": category}
        if expires_at is not None:
            metadata[EXPIRY_KEY] = expires_at
        message: Message = {"role": "user", "content": preference}
        async with self._locks.hold(user_id):
            items = await self._backend.add(
                store_user_id(user_id), [message], metadata, infer=False
            )
        if not items:
            raise RuntimeError("the memory store did not return the stored preference")
        return items[0]

    async def memory_history(self, user_id: str, memory_id: str) -> list[HistoryEntry]:
        await self.get_memory(user_id, memory_id)
        return await self._backend.history(memory_id)

    async def update_memory(
        self,
        user_id: str,
        memory_id: str,
        text: str | None,
        metadata: dict[str, MetadataValue] | None,
        expiry: NewExpiry | None = None,
    ) -> MemoryItem:
        """Change the caller's memory: its text, `metadata` merged into its own, its expiry."""
        async with self._locks.hold(user_id):
            await self.get_memory(user_id, memory_id)
            item = await self._backend.update(memory_id, text, metadata, expiry)
        if item is None:
            raise MemoryNotFoundError(memory_id)
        return item

    async def delete_memory(self, user_id: str, memory_id: str) -> None:
        await self.delete_memories(user_id, [memory_id])

    async def delete_memories(self, user_id: str, memory_ids: list[str]) -> int:
        """Delete the caller's memories: all of them, or (when any is not theirs) none."""
        async with self._locks.hold(user_id):
            for memory_id in memory_ids:
                await self.get_memory(user_id, memory_id)
            for memory_id in memory_ids:
                await self._backend.delete(memory_id)
        return len(memory_ids)

    async def forget_user(self, user_id: str) -> int:
        """Delete everything stored for the user; returns how many memories were removed.

        Queued jobs are cancelled first; a job a worker is running holds the user's lock, so
        this waits for it and then deletes what it stored. Nothing of theirs is stored after.
        """
        cancelled = await self._queue.cancel_user(user_id)
        async with self._locks.hold(user_id):
            deleted = await self._backend.delete_user(store_user_id(user_id))
        await self._queue.idempotency.forget(user_id)
        logger.info("user forgotten: %d memories deleted, %d jobs cancelled", deleted, cancelled)
        return deleted

    # --- lifecycle -------------------------------------------------------------------------

    async def ready(self) -> str | None:
        """Raise if the store cannot serve; else None, or a warning for the readiness probe."""
        return await self._backend.ping()

    async def close(self) -> None:
        await self._backend.close()
