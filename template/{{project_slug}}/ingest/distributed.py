"""The distributed job queue: Redis, through SAQ (JOB_QUEUE_URL set).

SAQ keeps the jobs: it enqueues them, hands each to one worker, schedules retries, records
heartbeats of running jobs and sweeps the jobs whose worker died back into the queue. This
module adds a few keys of its own, under `memjobs:`, for what SAQ has no notion of:

- `memjobs:job:<id>:payload`: the conversation, apart from SAQ's job, so that forget-me can
  drop it and SAQ's own log lines never show it; once stored, only the ids of its memories;
- `memjobs:user:<user>:...`: per user (`<user>` is the sha256 of the user id, never the id
  itself), the pending jobs (for backpressure and forget-me), the failed ones, the
  idempotency keys, and the lock that serializes the user's writes across processes;
- `memjobs:failed`: the failed jobs (dead letters), oldest first.

API processes `start(None)`: they enqueue and read. `python -m <package>.worker` processes
`start(handler)`: each runs a SAQ worker with JOB_CONCURRENCY jobs at a time.

Order: jobs are dequeued in the order they were accepted, but one user's conversations are
not guaranteed to be stored in that order. A retried job goes back when its backoff ends,
after later ones; a job whose user's lock is taken (another of their conversations is being
stored) goes back for a moment instead of holding a job slot, so that one user's burst does
not stall everyone else's. They are never stored at the same time (the user's lock).

Exactly once in effect: a delivery after a crash, a deferral or a failed attempt has
`attempt > 1`, and the handler first removes what an earlier delivery stored.
"""

import asyncio
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import LockError, RedisError
from saq import Job, Status, Worker
from saq.queue.redis import RedisQueue
from saq.types import Context

from .. import metrics
from ..errors import ProviderRejectedError, ProviderUnavailableError
from ..observability import operations
from ..settings import Settings
from .model import (
    Claim,
    Delivery,
    Handler,
    JobState,
    JobStatus,
    NewJob,
    QueueDepth,
    QueueFullError,
    RetryPolicy,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMPONENT = "job queue"
NAMESPACE = "memjobs"
FUNCTION = "store_conversation"
FORGOTTEN = "the user was forgotten"
INTERRUPTED = "interrupted: the worker running it stopped before it finished"
WORKER_ERROR = "the worker could not run it (see the worker's log)"
WAITING = "waiting for another of the user's conversations to be stored"
# Job ids are the service's own (uuid hex); anything else never names a job.
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_BATCH = 100
_SWEEP_WAIT_SECONDS = 0.1  # not 0: SAQ reads 0 as "wait forever"
_PENDING = (Status.NEW, Status.QUEUED)
# How an attempt's result counts in the metrics (a deferred delivery is no attempt).
_JOB_OUTCOMES = {"done": "done", "cancelled": "cancelled", "failed": "failed", "retry": "retrying"}

# Reserve a pending slot for the user and store the payload, in one step.
# KEYS: the user's pending set, the payload. ARGV: job id, per-user limit, payload.
_RESERVE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0
    and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[3])
return 1
"""
# Drop the payload of every pending or failed job of a user; returns their ids.
# KEYS: the user's pending set, the user's failed set. ARGV: payload key prefix, suffix.
_DROP_PAYLOADS = """
local ids = redis.call('SUNION', KEYS[1], KEYS[2])
for _, id in ipairs(ids) do
    redis.call('DEL', ARGV[1] .. id .. ARGV[2])
end
return ids
"""
# KEYS: the entry, the user's index of entries. ARGV: fingerprint, value ('' for none),
# has value ('1'/'0'), entry ttl, index ttl.
_CLAIM = """
local found = redis.call('HMGET', KEYS[1], 'f', 'v')
if found[1] then
    return found
end
if ARGV[3] == '1' then
    redis.call('HSET', KEYS[1], 'f', ARGV[1], 'v', ARGV[2])
else
    redis.call('HSET', KEYS[1], 'f', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return false
"""
# KEYS: the entry, the index. ARGV: value, ttl.
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[1], 'v', ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    redis.call('SADD', KEYS[2], KEYS[1])
    redis.call('EXPIRE', KEYS[2], ARGV[2])
end
"""
# Only a claim that was never settled: a settled answer is what a retry must get back.
_RELEASE = """
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then
    redis.call('DEL', KEYS[1])
end
"""
_FORGET = """
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
"""


def _key(*parts: str) -> str:
    return ":".join((NAMESPACE, *parts))


def _user(user_id: str) -> str:
    """The user's part of a key name: user ids may hold any character, digests do not."""
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()


def _payload_key(job_id: str) -> str:
    return _key("job", job_id, "payload")


def _accepting_key(job_id: str) -> str:
    return _key("job", job_id, "accepting")


def _pending_key(user_id: str) -> str:
    return _key("user", _user(user_id), "pending")


def _user_failed_key(user_id: str) -> str:
    return _key("user", _user(user_id), "failed")


FAILED_KEY = _key("failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _awaitable(call: Awaitable[T] | T) -> Awaitable[T]:
    """redis-py types its commands for both clients ("awaitable or value"); the asyncio
    client's always return an awaitable."""
    return cast(Awaitable[T], call)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `stop`, and say whether it is set.

    The background loops here (a job's heartbeat, a lock's renewal) end on an event, not by
    cancellation: on Python 3.11 a cancel that lands as an `asyncio.wait_for` finishes is lost
    (CPython gh-86296, fixed in 3.12), and redis-py wraps every socket write in one, so a loop
    cancelled during a Redis call carried on for ever, and whoever waited for it too.
    """
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def _why(exc: RedisError) -> str:
    return f"Redis did not answer ({type(exc).__name__})"


@contextmanager
def _redis_errors(retry_after: int) -> Iterator[None]:
    """Redis failures leave as ProviderUnavailableError: 503 with Retry-After, or a retry."""
    try:
        yield
    except RedisError as exc:
        raise ProviderUnavailableError(COMPONENT, _why(exc), retry_after) from exc


def _user_of(job: Job) -> str:
    return str((job.kwargs or {})["user_id"])


def _status(job: Job) -> JobStatus:
    if job.status in _PENDING:
        return "retrying" if job.attempts and job.error != WAITING else "queued"
    if job.status in (Status.ACTIVE, Status.ABORTING):  # aborting: being handed back
        return "running"
    if job.status is Status.COMPLETE:
        return "done"
    if job.status is Status.FAILED:
        return "failed"
    return "cancelled"


class _SaqQueue(RedisQueue):
    """SAQ's Redis queue, finishing each job the way its function's outcome says, and keeping
    this module's keys in step with every job that ends.

    Every end of a job passes through `finish` (the worker's, the sweep's, an abort's), and
    every retry SAQ starts on its own (a swept job, a worker stopped past its grace period)
    through `retry`. The job function never raises: it returns an outcome, which `finish`
    turns into a done, cancelled, retried or failed job with a human reason, never a trace.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        super().__init__(redis, name=NAMESPACE, swept_error_message=INTERRUPTED)
        self.retention = settings.job_retention_seconds

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        # SAQ waits `abort` seconds, one swept job after the other, for the job's worker to
        # acknowledge; a swept job's worker is dead (or so stalled it missed a whole lease),
        # and a late one changes nothing (see `finish`): hand the jobs back without waiting.
        return await super().sweep(lock, abort=min(abort, _SWEEP_WAIT_SECONDS))

    async def retry(self, job: Job, error: str | None) -> None:
        # SAQ's own retries: the job was interrupted, or its function failed (a traceback).
        job.retry_delay = 0.0
        reason = INTERRUPTED if error in (INTERRUPTED, "cancelled") else WORKER_ERROR
        await super().retry(job, reason)

    async def finish(
        self,
        job: Job,
        status: Status,
        *,
        result: Any = None,
        error: str | None = None,
        **kwargs: Any,
    ) -> None:
        if status is Status.COMPLETE and isinstance(result, dict) and "outcome" in result:
            await self._conclude(job, result)
            return
        if status is Status.FAILED:  # SAQ's own: the error is a traceback
            error = WORKER_ERROR
        if status is Status.ABORTED and error == INTERRUPTED:
            if job.retryable:
                # A worker that was slow to renew its job's lease acknowledges the sweep:
                # the sweep queued the job again, and its state is the next delivery's now.
                return
            # SAQ gives up on a job interrupted once too often: a failure, not a cancellation.
            status = Status.FAILED
        await self._end(job, status, result=result, error=error)

    async def _conclude(self, job: Job, outcome: dict[str, Any]) -> None:
        kind = outcome["outcome"]
        if kind == "done":
            await self._end(job, Status.COMPLETE, result=outcome["memory_ids"])
        elif kind == "cancelled":
            await self._end(job, Status.ABORTED, error=FORGOTTEN)
        elif kind in ("retry", "defer"):
            if kind == "defer":  # the delivery does not count against the retry budget
                job.meta["budget_from"] = int(job.meta.get("budget_from", 0)) + 1
                job.retries += 1
            job.retry_delay = float(outcome["retry_in"])
            await super().retry(job, str(outcome["reason"]))
        else:
            await self._end(job, Status.FAILED, error=str(outcome["reason"]))

    async def _end(
        self, job: Job, status: Status, *, result: Any = None, error: str | None = None
    ) -> None:
        # Failed jobs are dead letters, kept until retried or forgotten; the others expire.
        job.ttl = 0 if status is Status.FAILED else self.retention
        await super().finish(job, status, result=result, error=error)
        user_id = _user_of(job)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(_pending_key(user_id), job.key)
            if status is Status.FAILED:
                pipe.zadd(FAILED_KEY, {job.key: time.time()})
                pipe.sadd(_user_failed_key(user_id), job.key)
                await pipe.execute()
                return
            if status is Status.COMPLETE:
                # The text goes; what it became stays, for a delivery thought lost (`_work`).
                stored = json.dumps({"memory_ids": result})
                pipe.set(_payload_key(job.key), stored, ex=self.retention)
            else:
                pipe.delete(_payload_key(job.key))
            pipe.zrem(FAILED_KEY, job.key)
            pipe.srem(_user_failed_key(user_id), job.key)
            await pipe.execute()


class _Worker(Worker[Context]):
    # Signals belong to the process (worker.py), which closes the queue on SIGTERM.
    SIGNALS = []  # noqa: RUF012 - overrides SAQ's class attribute


class RedisUserLocks:
    """UserLocks across processes: a Redis lock per user (redis-py's), leased for
    JOB_LEASE_SECONDS and renewed while held, so a long model call keeps it and a killed
    holder's lock lapses on its own."""

    def __init__(self, redis: Redis, lease_seconds: int, retry_after: int) -> None:
        self._redis = redis
        self._lease = lease_seconds
        self._retry_after = retry_after

    @staticmethod
    def key(user_id: str) -> str:
        return _key("user", _user(user_id), "lock")

    async def busy(self, user_id: str) -> bool:
        """Whether someone holds the user's lock right now (a hint: it may change at once)."""
        return bool(await self._redis.exists(self.key(user_id)))

    @asynccontextmanager
    async def hold(self, user_id: str) -> AsyncIterator[None]:
        lock = Lock(self._redis, self.key(user_id), self._lease, sleep=0.05, thread_local=False)
        with _redis_errors(self._retry_after):
            await lock.acquire()
        stop = asyncio.Event()
        keeper = asyncio.create_task(self._renew(lock, stop))
        try:
            yield
        except asyncio.CancelledError:
            # A call the holder started may still run in a thread (mem0's): rather than
            # hand the user over now, let the lease lapse.
            stop.set()
            raise
        except BaseException:
            stop.set()
            await asyncio.wait([keeper])  # no renewal in flight as the lock goes
            await self._release(lock)
            raise
        stop.set()
        await asyncio.wait([keeper])
        await self._release(lock)

    async def _renew(self, lock: Lock, stop: asyncio.Event) -> None:
        while not await _stopped(stop, self._lease / 3):
            try:
                await lock.reacquire()
            except LockError:
                logger.error("a user's write lock lapsed while held (Redis stalled past the lease)")
                return
            except RedisError as exc:
                logger.warning("could not renew a user's write lock: %s", _why(exc))

    @staticmethod
    async def _release(lock: Lock) -> None:
        try:
            await lock.release()
        except LockError:
            logger.warning("a user's write lock had lapsed before it was released")
        except RedisError as exc:
            logger.warning("could not release a user's write lock (it lapses): %s", _why(exc))


class RedisIdempotency:
    """Idempotency keys per user, in Redis. A claim without a value (a request in progress)
    lapses after two leases, so a request that crashed does not hold its key; a settled one
    is kept IDEMPOTENCY_TTL_SECONDS."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._ttl = settings.idempotency_ttl_seconds
        self._unsettled_ttl = 2 * settings.job_lease_seconds
        self._retry_after = settings.provider_retry_after_seconds
        self._claim = redis.register_script(_CLAIM)
        self._settle = redis.register_script(_SETTLE)
        self._release = redis.register_script(_RELEASE)
        self._forget = redis.register_script(_FORGET)

    @staticmethod
    def _index(user_id: str) -> str:
        return _key("user", _user(user_id), "idempotency")

    def _keys(self, user_id: str, key: str) -> list[str]:
        """The entry's name (a digest of the key: keys are the client's text) and the index."""
        index = self._index(user_id)
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return [f"{index}:{digest}", index]

    async def claim(self, user_id: str, key: str, fingerprint: str, value: str | None) -> Claim:
        ttl = self._ttl if value is not None else self._unsettled_ttl
        args = [fingerprint, value or "", "0" if value is None else "1", ttl, self._ttl]
        with _redis_errors(self._retry_after):
            found = await self._claim(keys=self._keys(user_id, key), args=args)
        if found is None:
            return Claim("new")
        stored_fingerprint, stored_value = found
        if _text(stored_fingerprint) != fingerprint:
            return Claim("mismatch")
        if stored_value is None:
            return Claim("busy")
        return Claim("replay", _text(stored_value))

    async def settle(self, user_id: str, key: str, value: str) -> None:
        with _redis_errors(self._retry_after):
            await self._settle(keys=self._keys(user_id, key), args=[value, self._ttl])

    async def release(self, user_id: str, key: str) -> None:
        with _redis_errors(self._retry_after):
            await self._release(keys=self._keys(user_id, key)[:1])

    async def forget(self, user_id: str) -> None:
        with _redis_errors(self._retry_after):
            await self._forget(keys=[self._index(user_id)])


class RedisJobQueue:
    """The JobQueue shared by every API and worker process, in the Redis at JOB_QUEUE_URL."""

    def __init__(self, settings: Settings, policy: RetryPolicy) -> None:
        if not settings.job_queue_url:
            raise ValueError("RedisJobQueue needs JOB_QUEUE_URL")
        self._settings = settings
        self._policy = policy
        self._lease = settings.job_lease_seconds
        self._retry_after = settings.provider_retry_after_seconds
        # Fail fast when Redis is down: a few quick retries, then a 503 (or a job retry).
        self._redis: Redis = Redis.from_url(
            settings.job_queue_url,
            socket_connect_timeout=5,
            socket_timeout=10,
            health_check_interval=15,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        )
        self._saq = _SaqQueue(self._redis, settings)
        self._reserve = self._redis.register_script(_RESERVE)
        self._drop_payloads = self._redis.register_script(_DROP_PAYLOADS)
        self.idempotency = RedisIdempotency(self._redis, settings)
        self.locks = RedisUserLocks(self._redis, self._lease, self._retry_after)
        self._handler: Handler | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Future[list[str] | None]] = set()
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, handler: Handler | None) -> None:
        await self.ping()
        await self._saq.connect()
        if handler is None:
            return
        self._handler = handler
        # A killed worker's job is swept back once its heartbeat lapses (one lease), within
        # one sweep interval more.
        upkeep = max(1, min(5, self._lease // 3))
        worker = _Worker(
            self._saq,
            functions=[(FUNCTION, self._work)],
            concurrency=self._settings.job_concurrency,
            timers={"schedule": 1, "abort": 1, "sweep": upkeep, "worker_info": upkeep},
            dequeue_timeout=1.0,  # idle job slots notice a shutdown within a second
            shutdown_grace_period_s=math.ceil(self._settings.shutdown_grace_seconds),
        )
        self._worker_task = asyncio.create_task(worker.start(), name="saq-worker")

    async def close(self) -> None:
        """Stop dequeuing; running jobs get SHUTDOWN_GRACE_SECONDS, then go back to the queue
        (SAQ re-queues them; the next delivery has attempt > 1)."""
        if self._closed:
            return
        self._closed = True
        if self._worker_task is not None:
            self._worker_task.cancel()  # SAQ's worker stops itself, with the grace period
            await asyncio.wait([self._worker_task])
        for task in self._handling:  # handed back already; their locks lapse on their own
            task.cancel()
        if self._handling:
            await asyncio.wait(list(self._handling))
        try:
            await self._saq.disconnect()
        except RedisError as exc:
            logger.warning("the job queue closed without saying goodbye to Redis: %s", _why(exc))
            await self._redis.aclose()

    async def ping(self) -> None:
        with _redis_errors(self._retry_after):
            await _awaitable(self._redis.ping())

    # --- the API side ----------------------------------------------------------------------

    async def enqueue(self, job: NewJob) -> JobState:
        if not _JOB_ID.fullmatch(job.id):
            raise ValueError(f"not a job id: {job.id!r}")
        with _redis_errors(self._retry_after):
            return await self._enqueue(job)

    async def _enqueue(self, job: NewJob) -> JobState:
        # One request at a time enqueues an id; the others (client retries with the same
        # Idempotency-Key) wait for it and answer with its state. SAQ would re-run a finished
        # job enqueued again, so the id's existence is checked under that claim.
        accepting = _accepting_key(job.id)
        deadline = time.monotonic() + self._lease + 1
        while True:
            if (known := await self.get(job.id)) is not None:
                return known
            if await _awaitable(self._redis.set(accepting, "1", nx=True, ex=self._lease)):
                break
            if time.monotonic() > deadline:
                reason = "another request is still queueing this conversation"
                raise ProviderUnavailableError(COMPONENT, reason, self._retry_after)
            await asyncio.sleep(0.05)
        try:
            if (known := await self.get(job.id)) is not None:
                return known
            return await self._add(job)
        finally:
            await self._redis.delete(accepting)

    async def _add(self, job: NewJob) -> JobState:
        if await self._saq.count("incomplete") >= self._settings.job_pending_max:
            raise QueueFullError("service", self._settings.job_pending_max, self._retry_after)
        payload = json.dumps(
            {"messages": job.messages, "metadata": job.metadata, "request_id": job.request_id}
        )
        limit = self._settings.job_pending_max_per_user
        keys = [_pending_key(job.user_id), _payload_key(job.id)]
        if not await self._reserve(keys=keys, args=[job.id, limit, payload]):
            await self._forget_stale_pending(job.user_id)
            if not await self._reserve(keys=keys, args=[job.id, limit, payload]):
                raise QueueFullError("user", limit, self._retry_after)
        now = time.time()
        saq_job = Job(
            function=FUNCTION,
            kwargs={"user_id": job.user_id},
            key=job.id,
            timeout=0,  # model calls have their own timeouts; the heartbeat tells liveness
            heartbeat=self._lease,
            retries=self._policy.max_attempts + 1,
            ttl=self._settings.job_retention_seconds,
            meta={"created_at": now, "budget_from": 0, "budget_since": now},
        )
        try:
            await self._saq.enqueue(saq_job)
        except BaseException:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.srem(keys[0], job.id)
                pipe.delete(keys[1])
                await pipe.execute()
            raise
        return JobState(job.id, job.user_id, "queued", 0, now, now)

    async def _forget_stale_pending(self, user_id: str) -> None:
        """Drop ids of jobs that ended without leaving the user's pending set (a process
        died between two writes), so that they stop counting against the user's limit."""
        pending = _pending_key(user_id)
        ids = [_text(member) for member in await _awaitable(self._redis.smembers(pending))]
        if not ids:
            return
        jobs = await self._saq.jobs(ids)
        accepting = await self._redis.mget([_accepting_key(job_id) for job_id in ids])
        stale = [
            job_id
            for job_id, job, in_flight in zip(ids, jobs, accepting, strict=True)
            if in_flight is None and (job is None or job.status not in (*_PENDING, Status.ACTIVE))
        ]
        if stale:
            await _awaitable(self._redis.srem(pending, *stale))

    async def get(self, job_id: str) -> JobState | None:
        if not _JOB_ID.fullmatch(job_id):
            return None
        with _redis_errors(self._retry_after):
            job = await self._saq.job(job_id)
            return None if job is None else await self._state(job)

    async def _state(self, job: Job) -> JobState:
        status = _status(job)
        next_attempt_at = None
        if status == "retrying":
            score = await self._redis.zscore(self._saq.namespace("incomplete"), job.id)
            next_attempt_at = score or None  # 0: due now
        done = status == "done" and isinstance(job.result, list)
        stamps = (job.queued, job.started, job.touched, job.completed)
        return JobState(
            id=job.key,
            user_id=_user_of(job),
            status=status,
            attempts=job.attempts,
            created_at=float(job.meta.get("created_at", job.queued / 1000)),
            updated_at=max(stamps) / 1000,
            next_attempt_at=next_attempt_at,
            reason=None if status in ("queued", "running", "done") else job.error,
            memory_ids=[str(memory_id) for memory_id in job.result] if done else [],
        )

    async def cancel_user(self, user_id: str) -> int:
        """Drop the payload of every job of the user; cancel the ones no worker runs (and the
        failed ones). A running job finds its payload gone when it takes the user's lock."""
        with _redis_errors(self._retry_after):
            keys = [_pending_key(user_id), _user_failed_key(user_id)]
            ids = await self._drop_payloads(keys=keys, args=[_key("job", ""), ":payload"])
            jobs = await self._saq.jobs([_text(job_id) for job_id in ids]) if ids else []
            cancelled = 0
            for job in jobs:
                # None: still being enqueued, it will be delivered without a payload.
                if job is None or job.status is Status.COMPLETE:
                    continue
                cancelled += 1
                if job.status is Status.ACTIVE:
                    continue  # its handler finds the payload gone, under the user's lock
                if job.status in _PENDING:
                    await self._saq.abort(job, FORGOTTEN)  # out of the queue and the schedule
                await self._saq.finish(job, Status.ABORTED, error=FORGOTTEN)
            return cancelled

    async def cancelled(self, delivery: Delivery) -> bool:
        with _redis_errors(self._retry_after):
            return not await self._redis.exists(_payload_key(delivery.id))

    async def note_pending(self, job_id: str, token: str) -> None:
        # Only the job's own delivery writes its payload meanwhile (it holds the user's lock);
        # forget-me may drop it, and `xx` keeps a dropped payload dropped.
        key = _payload_key(job_id)
        with _redis_errors(self._retry_after):
            payload = await self._redis.get(key)
            if payload is not None:
                body = {**json.loads(payload), "pending": token}
                await self._redis.set(key, json.dumps(body), xx=True, keepttl=True)

    async def failed(self) -> AsyncIterator[JobState]:
        start = 0
        while True:
            with _redis_errors(self._retry_after):
                found = await self._redis.zrange(FAILED_KEY, start, start + _BATCH - 1)
                ids = [_text(job_id) for job_id in found]
                jobs = await self._saq.jobs(ids) if ids else []
                states = [
                    await self._state(job) for job in jobs if job and job.status is Status.FAILED
                ]
            for state in states:
                yield state
            if len(ids) < _BATCH:
                return
            start += _BATCH

    async def depth(self) -> QueueDepth:
        with _redis_errors(self._retry_after):
            pending = await self._saq.count("incomplete")
            failed = await _awaitable(self._redis.zcard(FAILED_KEY))
        return QueueDepth(pending=pending, failed=failed)

    async def retry_failed(self) -> int:
        """Queue every failed job again with a fresh budget: JOB_MAX_ATTEMPTS more attempts
        and JOB_MAX_AGE_SECONDS from now. Attempts keep counting, so the next delivery still
        removes what an earlier one stored."""
        retried = 0
        with _redis_errors(self._retry_after):
            while ids := await self._redis.zrange(FAILED_KEY, 0, _BATCH - 1):
                for job_id in map(_text, ids):
                    if await self._redis.zrem(FAILED_KEY, job_id) and await self._requeue(job_id):
                        retried += 1
        return retried

    async def _requeue(self, job_id: str) -> bool:
        job = await self._saq.job(job_id)
        if job is None or job.status is not Status.FAILED:
            return False
        user_id = _user_of(job)
        now = time.time()
        job.meta.update(budget_from=job.attempts, budget_since=now)
        job.retries = job.attempts + self._policy.max_attempts + 1
        job.ttl = self._settings.job_retention_seconds
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_pending_key(user_id), job_id)
            pipe.srem(_user_failed_key(user_id), job_id)
            await pipe.execute()
        await self._saq.enqueue(job)
        return True

    # --- the worker side -------------------------------------------------------------------

    async def _work(self, ctx: Context, *, user_id: str) -> dict[str, Any]:
        """SAQ's job function: one delivery to the handler. Never raises (but cancellation):
        its outcome decides how `_SaqQueue.finish` ends the job."""
        started = time.perf_counter()
        result = await self._attempt(ctx["job"], user_id)
        if (outcome := _JOB_OUTCOMES.get(result["outcome"])) is not None:
            metrics.observe_job(outcome, time.perf_counter() - started)
        return result

    async def _attempt(self, job: Job, user_id: str) -> dict[str, Any]:
        log = operations.bind(
            operation="store_conversation", job_id=job.key, user_id=user_id, attempt=job.attempts
        )
        if job.attempts - int(job.meta.get("budget_from", 0)) > self._policy.max_attempts:
            # Interrupted too often (a job that kills its worker, say): give up on it.
            last = job.error or INTERRUPTED
            reason = f"gave up after {self._policy.max_attempts} attempts: {last}"
            log.error("conversation not stored: job failed", outcome="failed", reason=reason)
            return {"outcome": "failed", "reason": reason}
        started = time.perf_counter()
        try:
            payload = await self._redis.get(_payload_key(job.key))
            if payload is None:  # dropped: the user was forgotten
                log.info("conversation not stored: job cancelled", outcome="cancelled")
                return {"outcome": "cancelled"}
            body = json.loads(payload)
            if "memory_ids" in body:
                # A delivery that was swept as lost (its worker stalled) finished after all.
                return {"outcome": "done", "memory_ids": body["memory_ids"]}
            if await self.locks.busy(user_id):
                return {"outcome": "defer", "reason": WAITING, "retry_in": self._policy.delay(1)}
            delivery = Delivery(
                id=job.key,
                user_id=user_id,
                messages=body["messages"],
                metadata=body["metadata"],
                attempt=job.attempts,
                created_at=float(job.meta["created_at"]),
                request_id=body.get("request_id"),
                pending=body.get("pending"),
            )
            log = log.bind(request_id=delivery.request_id)
            memory_ids = await self._deliver(job, delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._attempt_failed(job, exc, log)
        if memory_ids is None:
            log.info("conversation not stored: job cancelled", outcome="cancelled")
            return {"outcome": "cancelled"}
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info(
            "conversation stored", outcome="ok", memories=len(memory_ids), latency_ms=latency_ms
        )
        return {"outcome": "done", "memory_ids": memory_ids}

    async def _deliver(self, job: Job, delivery: Delivery) -> list[str] | None:
        assert self._handler is not None
        # Shielded: should SAQ cancel the job function (an abort, a shutdown), the handler
        # still ends its write and releases the user's lock instead of leaving it half done.
        task = asyncio.ensure_future(self._handler(delivery))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)
        stop = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(job, stop))
        try:
            return await asyncio.shield(task)
        finally:
            stop.set()
            await asyncio.wait([heartbeat])

    async def _heartbeat(self, job: Job, stop: asyncio.Event) -> None:
        """Touch the running job well within its lease, so that only a dead worker's is swept."""
        while not await _stopped(stop, self._lease / 3):
            try:
                await job.update()
            except RedisError as exc:
                logger.warning("could not renew the lease of job %s: %s", job.key, _why(exc))

    def _attempt_failed(self, job: Job, exc: Exception, log: Any) -> dict[str, Any]:
        if isinstance(exc, ProviderUnavailableError):
            metrics.provider_failed(exc.component)
        if isinstance(exc, ProviderUnavailableError | ProviderRejectedError):
            reason = str(exc)
        else:
            reason = f"{type(exc).__name__}: internal error"
            log.error("conversation job raised", exc_info=exc)
        attempt = job.attempts - int(job.meta.get("budget_from", 0))
        since = float(job.meta.get("budget_since", job.meta["created_at"]))
        # A refused conversation would be refused again: no retry.
        refused = isinstance(exc, ProviderRejectedError)
        if refused or self._policy.gives_up(attempt, since, time.time()):
            log.error("conversation not stored: job failed", outcome="failed", reason=reason)
            return {"outcome": "failed", "reason": reason}
        retry_in = self._policy.delay(attempt)
        log.warning(
            "conversation not stored yet: will retry",
            outcome="retrying",
            reason=reason,
            retry_in_s=round(retry_in, 1),
        )
        return {"outcome": "retry", "reason": reason, "retry_in": retry_in}
