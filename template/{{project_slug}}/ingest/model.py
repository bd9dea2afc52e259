"""The queue interface: jobs, their states, idempotency keys, and the errors the API maps.

Both queues (embedded SQLite, distributed Redis) implement `JobQueue`; the service and the
routes never know which one they talk to.
"""

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..memory.domain import Message, MetadataValue

JobStatus = Literal["queued", "running", "retrying", "done", "failed", "cancelled"]
PENDING: frozenset[JobStatus] = frozenset({"queued", "running", "retrying"})


@dataclass(frozen=True, slots=True)
class NewJob:
    """A conversation accepted by the API, before the queue has seen it."""

    id: str
    user_id: str
    messages: list[Message]
    metadata: dict[str, MetadataValue]
    request_id: str | None = None  # of the request that accepted it: the job's logs carry it


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of a job to a worker. `attempt` counts from 1; a delivery after a crash
    or an expired lease has `attempt > 1` even when no attempt failed."""

    id: str
    user_id: str
    messages: list[Message]
    metadata: dict[str, MetadataValue]
    attempt: int
    created_at: float
    request_id: str | None = None
    # A write an earlier delivery left in flight at the provider (`JobQueue.note_pending`):
    # this delivery follows it instead of writing the conversation again.
    pending: str | None = None


@dataclass(frozen=True, slots=True)
class JobState:
    """What a caller may know about one of their jobs (never the conversation itself)."""

    id: str
    user_id: str
    status: JobStatus
    attempts: int
    created_at: float
    updated_at: float
    next_attempt_at: float | None = None
    reason: str | None = None
    memory_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """The whole queue now: jobs not finished yet (queued, retrying or running) and failed."""

    pending: int
    failed: int


class QueueFullError(Exception):
    """Too much accepted work is pending: for this caller (`scope="user"`) or overall."""

    def __init__(self, scope: Literal["user", "service"], limit: int, retry_after: int) -> None:
        whose = "you have" if scope == "user" else "the service has"
        super().__init__(
            f"Too many conversations are waiting to be stored: {whose} {limit} pending. "
            f"Try again in {retry_after} seconds."
        )
        self.scope = scope
        self.retry_after = retry_after


class IdempotencyKeyReusedError(Exception):
    """The key was already used for a request with a different body."""


class IdempotencyKeyBusyError(Exception):
    """The first request with this key is still being processed."""


ClaimState = Literal["new", "replay", "busy", "mismatch"]


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming an idempotency key: `new` (go ahead), `replay` (the first
    request finished with `value`), `busy` (it is still running), `mismatch` (other body)."""

    state: ClaimState
    value: str | None = None


class IdempotencyStore(Protocol):
    """Idempotency keys, per caller, remembered for IDEMPOTENCY_TTL_SECONDS."""

    async def claim(self, user_id: str, key: str, fingerprint: str, value: str | None) -> Claim: ...

    async def settle(self, user_id: str, key: str, value: str) -> None: ...

    async def release(self, user_id: str, key: str) -> None: ...

    async def forget(self, user_id: str) -> None:
        """Drop every key of the user (replayed answers hold their memories' text)."""
        ...


# A worker's handler: store the delivery, return the memory ids, or None when the job was
# cancelled meanwhile (its user was forgotten). Raising means "try again later".
Handler = Callable[[Delivery], Awaitable[list[str] | None]]


class UserLocks(Protocol):
    """Mutual exclusion of one user's writes, across every process that writes."""

    def hold(self, user_id: str) -> AbstractAsyncContextManager[None]: ...


class LocalUserLocks:
    """UserLocks for one process: an asyncio.Lock per user, dropped once nobody holds or
    waits for it."""

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


class JobQueue(Protocol):
    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def locks(self) -> UserLocks: ...

    async def start(self, handler: Handler | None) -> None:
        """Open the queue; with a handler, also run workers in this process."""
        ...

    async def enqueue(self, job: NewJob) -> JobState:
        """Store the job durably before returning. Idempotent on `job.id`: enqueuing an id
        the queue knows returns that job's state. Raises QueueFullError over the bounds."""
        ...

    async def get(self, job_id: str) -> JobState | None: ...

    async def cancel_user(self, user_id: str) -> int:
        """Cancel the user's pending jobs that no worker runs, drop every job's payload and
        remember the time: a running job checks `cancelled` under the user's lock."""
        ...

    async def cancelled(self, delivery: Delivery) -> bool:
        """Whether the delivery's user was forgotten after the job was accepted."""
        ...

    async def note_pending(self, job_id: str, token: str) -> None:
        """Remember, durably, a write of a running job that its provider finishes later (an
        event the provider processes): later deliveries of the job carry it as `pending`.
        Does nothing when the job's conversation is gone (its user was forgotten)."""
        ...

    def failed(self) -> AsyncIterator[JobState]:
        """Failed jobs (dead letters), oldest first."""
        ...

    async def depth(self) -> QueueDepth:
        """How much work the queue holds (raises ProviderUnavailableError like `ping`)."""
        ...

    async def retry_failed(self) -> int:
        """Queue every failed job again, with a fresh retry budget; returns how many."""
        ...

    async def ping(self) -> None:
        """Raise ProviderUnavailableError("job queue", ...) when the queue cannot take work
        (enqueue raises the same when its storage fails)."""
        ...

    async def close(self) -> None:
        """Stop taking work; let running jobs finish within the grace period, or hand them
        back to the queue."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in age."""

    max_attempts: int
    max_age_seconds: float
    base_seconds: float
    cap_seconds: float

    def delay(self, attempt: int) -> float:
        """Seconds before the attempt after `attempt` (1-based): half the exponential step
        for sure plus a random half, so retries spread out yet never exceed the cap."""
        step = min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not security

    def gives_up(self, attempt: int, created_at: float, now: float) -> bool:
        return attempt >= self.max_attempts or now - created_at >= self.max_age_seconds
