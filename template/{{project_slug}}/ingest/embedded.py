"""The embedded job queue: SQLite in WAL mode under DATA_DIR, worked inside this process.

- **Durable before 202.** An accepted job is committed (WAL, `synchronous=FULL`) before
  `enqueue` returns. One thread owns the connection; calls that arrive together are
  committed together (group commit), so a burst of requests pays for a few fsyncs, not one
  each, and the event loop never waits on the disk.
- **One process.** The queue takes an exclusive lock on `jobs.db.lock`: a second process on
  the same DATA_DIR refuses to start (set JOB_QUEUE_URL to scale out). So at start-up, jobs
  left `running` belong to a process that died: they go back to the queue, as redeliveries.
- **Per-user order.** A job is claimed only when none of its user's earlier jobs is pending,
  so one user's conversations are stored in the order they were accepted (a retrying job
  holds back that user's later ones), while different users' jobs run concurrently, up to
  JOB_CONCURRENCY at once.
- **Retries and dead letters.** A failed attempt is retried after `RetryPolicy.delay`; once
  the policy gives up the job is `failed`, keeps its payload, and `retry_failed` re-queues it.
- **Privacy.** A stored job drops its payload at once; `cancel_user` drops the payload of
  every job of the user and cancels what is pending.
"""

import asyncio
import concurrent.futures
import contextlib
import fcntl
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

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
    LocalUserLocks,
    NewJob,
    QueueDepth,
    QueueFullError,
    RetryPolicy,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]

COMPONENT = "job queue"
# How often the dispatcher looks for jobs that became due (retries) without being woken.
_POLL_SECONDS = 0.25
# Upkeep (expired jobs and keys) runs this often.
_UPKEEP_SECONDS = 600
# An idempotency key claimed by a request that never finished frees up after this long.
_UNSETTLED_KEY_SECONDS = 60
_MAX_GROUP = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    payload TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_at REAL,
    reason TEXT,
    memory_ids TEXT,
    budget_from INTEGER NOT NULL DEFAULT 0,
    budget_since REAL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, next_at);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user_id, status, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    value TEXT,
    expires_at REAL NOT NULL,
    PRIMARY KEY (user_id, key)
);
"""
_JOB_BY_ID = (
    "SELECT id, user_id, status, attempts, created_at, updated_at, next_at, reason, memory_ids"
    " FROM jobs WHERE id = ?"
)
_FAILED_JOBS = (
    "SELECT id, user_id, status, attempts, created_at, updated_at, next_at, reason, memory_ids"
    " FROM jobs WHERE status = 'failed' ORDER BY seq"
)


@dataclass(frozen=True, slots=True)
class _Budget:
    """Where a job's retry budget starts: re-queuing a failed job renews it, while attempts
    keep counting (so the next delivery knows an earlier one may have stored something)."""

    attempts_before: int
    since: float


class QueueLockedError(RuntimeError):
    """Another process already works this DATA_DIR's embedded queue."""


def _state(row: sqlite3.Row) -> JobState:
    status: JobStatus = row["status"]
    return JobState(
        id=row["id"],
        user_id=row["user_id"],
        status=status,
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_attempt_at=row["next_at"] if status == "retrying" else None,
        reason=row["reason"],
        memory_ids=json.loads(row["memory_ids"]) if row["memory_ids"] else [],
    )


class _Database:
    """One SQLite connection on one thread. Operations submitted while the thread is busy
    are run together in one transaction (each in its own savepoint) and one commit."""

    def __init__(self, path: Path, retry_after: int) -> None:
        self._path = path
        self._retry_after = retry_after
        self._requests: queue.SimpleQueue[
            tuple[Operation[Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="jobs-db", daemon=True)
        self._opened: concurrent.futures.Future[None] = concurrent.futures.Future()

    async def open(self) -> None:
        self._thread.start()
        await asyncio.wrap_future(self._opened)

    async def run(self, operation: Operation[T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._requests.put((operation, future))
        try:
            return await asyncio.wrap_future(future)
        except sqlite3.Error as exc:
            raise ProviderUnavailableError(
                COMPONENT, f"its database failed ({type(exc).__name__}: {exc})", self._retry_after
            ) from exc

    async def close(self) -> None:
        if self._thread.is_alive():
            self._requests.put(None)
            await asyncio.to_thread(self._thread.join)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "PRAGMA synchronous=FULL"
        )  # durable across a power cut, not only a crash
        connection.execute("PRAGMA busy_timeout=5000")
        connection.executescript(_SCHEMA)
        return connection

    def _serve(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:
            self._opened.set_exception(exc)
            return
        self._opened.set_result(None)
        try:
            while (first := self._requests.get()) is not None:
                group = [first]
                stop = False
                while len(group) < _MAX_GROUP:
                    try:
                        item = self._requests.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    group.append(item)
                self._run_group(connection, group)
                if stop:
                    break
        finally:
            connection.close()

    @staticmethod
    def _run_group(
        connection: sqlite3.Connection,
        group: list[tuple[Operation[Any], concurrent.futures.Future[Any]]],
    ) -> None:
        outcomes: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for operation, future in group:
                connection.execute("SAVEPOINT op")
                try:
                    result = operation(connection)
                except Exception as exc:
                    connection.execute("ROLLBACK TO op")
                    outcomes.append((future, None, exc))
                else:
                    outcomes.append((future, result, None))
                connection.execute("RELEASE op")
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for _operation, future in group:
                future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)


class SQLiteIdempotency:
    """Idempotency keys in the queue's database."""

    def __init__(self, database: _Database, ttl_seconds: int) -> None:
        self._db = database
        self._ttl = ttl_seconds

    async def claim(self, user_id: str, key: str, fingerprint: str, value: str | None) -> Claim:
        def claim(connection: sqlite3.Connection) -> Claim:
            now = time.time()
            row = connection.execute(
                "SELECT fingerprint, value FROM idempotency"
                " WHERE user_id = ? AND key = ? AND expires_at > ?",
                (user_id, key, now),
            ).fetchone()
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    return Claim("mismatch")
                return Claim("replay", row["value"]) if row["value"] else Claim("busy")
            lifetime = self._ttl if value is not None else _UNSETTLED_KEY_SECONDS
            connection.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?)",
                (user_id, key, fingerprint, value, now + lifetime),
            )
            return Claim("new")

        return await self._db.run(claim)

    async def settle(self, user_id: str, key: str, value: str) -> None:
        expires_at = time.time() + self._ttl
        await self._db.run(
            lambda c: c.execute(
                "UPDATE idempotency SET value = ?, expires_at = ? WHERE user_id = ? AND key = ?",
                (value, expires_at, user_id, key),
            )
        )

    async def release(self, user_id: str, key: str) -> None:
        await self._db.run(
            lambda c: c.execute(
                "DELETE FROM idempotency WHERE user_id = ? AND key = ? AND value IS NULL",
                (user_id, key),
            )
        )

    async def forget(self, user_id: str) -> None:
        await self._db.run(
            lambda c: c.execute("DELETE FROM idempotency WHERE user_id = ?", (user_id,))
        )


class SQLiteJobQueue:
    """The JobQueue of a single process, in DATA_DIR/jobs.db."""

    def __init__(self, settings: Settings, policy: RetryPolicy) -> None:
        self._settings = settings
        self._policy = policy
        self._path = settings.jobs_db_path
        self._db = _Database(self._path, settings.provider_retry_after_seconds)
        self.idempotency = SQLiteIdempotency(self._db, settings.idempotency_ttl_seconds)
        self.locks = LocalUserLocks()
        self._lock_file: IO[str] | None = None
        self._handler: Handler | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_upkeep = 0.0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, handler: Handler | None) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        if handler is not None:
            self._lock_file = self._take_process_lock()
        await self._db.open()
        if handler is None:
            return
        self._handler = handler
        handed_back = await self._db.run(self._requeue_running)
        if handed_back:
            logger.warning(
                "%d jobs were running when the service last stopped; queued again", handed_back
            )
        self._dispatcher = asyncio.create_task(self._dispatch(), name="job-dispatcher")

    def _take_process_lock(self) -> IO[str]:
        lock_file = open(self._path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock_file.close()
            raise QueueLockedError(
                f"The embedded job queue at {self._path} is already worked by another process. "
                "It admits one process: run one worker, or set JOB_QUEUE_URL (Redis) and run "
                "`python -m` the package's worker to scale out."
            ) from exc
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        return lock_file

    async def close(self) -> None:
        """Stop claiming; give running jobs SHUTDOWN_GRACE_SECONDS, then hand them back."""
        self._stopping = True
        self._wake.set()
        if self._dispatcher is not None:
            await self._dispatcher
        running = list(self._running.values())
        if running:
            logger.info("waiting up to %ss for %d running jobs", self._grace, len(running))
            _done, unfinished = await asyncio.wait(running, timeout=self._grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
        if self._handler is not None:
            handed_back = await self._db.run(self._requeue_running)
            if handed_back:
                logger.warning("%d running jobs handed back to the queue", handed_back)
        await self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()

    @property
    def _grace(self) -> float:
        return self._settings.shutdown_grace_seconds

    @staticmethod
    def _requeue_running(connection: sqlite3.Connection) -> int:
        now = time.time()
        cursor = connection.execute(
            "UPDATE jobs SET status = 'queued', next_at = ?, updated_at = ?"
            " WHERE status = 'running'",
            (now, now),
        )
        return cursor.rowcount

    async def ping(self) -> None:
        await self._db.run(lambda c: c.execute("SELECT 1").fetchone())

    # --- the API side ----------------------------------------------------------------------

    async def enqueue(self, job: NewJob) -> JobState:
        payload = json.dumps(
            {"messages": job.messages, "metadata": job.metadata, "request_id": job.request_id}
        )
        per_user = self._settings.job_pending_max_per_user
        overall = self._settings.job_pending_max
        retry_after = self._settings.provider_retry_after_seconds

        def enqueue(connection: sqlite3.Connection) -> JobState:
            known = connection.execute(_JOB_BY_ID, (job.id,)).fetchone()
            if known is not None:
                return _state(known)
            (mine,) = connection.execute(
                "SELECT count(*) FROM jobs"
                " WHERE user_id = ? AND status IN ('queued', 'retrying', 'running')",
                (job.user_id,),
            ).fetchone()
            if mine >= per_user:
                raise QueueFullError("user", per_user, retry_after)
            (everyone,) = connection.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'retrying', 'running')"
            ).fetchone()
            if everyone >= overall:
                raise QueueFullError("service", overall, retry_after)
            now = time.time()
            connection.execute(
                "INSERT INTO jobs (id, user_id, status, payload, created_at, updated_at, next_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (job.id, job.user_id, payload, now, now, now),
            )
            return JobState(job.id, job.user_id, "queued", 0, now, now)

        state = await self._db.run(enqueue)
        self._wake.set()
        return state

    async def get(self, job_id: str) -> JobState | None:
        def get(connection: sqlite3.Connection) -> JobState | None:
            row = connection.execute(_JOB_BY_ID, (job_id,)).fetchone()
            return _state(row) if row is not None else None

        return await self._db.run(get)

    async def cancel_user(self, user_id: str) -> int:
        def cancel(connection: sqlite3.Connection) -> int:
            now = time.time()
            cursor = connection.execute(
                "UPDATE jobs SET status = 'cancelled', payload = NULL, next_at = NULL,"
                " reason = 'the user was forgotten', updated_at = ?"
                " WHERE user_id = ? AND status IN ('queued', 'retrying', 'running', 'failed')",
                (now, user_id),
            )
            connection.execute(
                "UPDATE jobs SET payload = NULL, memory_ids = NULL WHERE user_id = ?", (user_id,)
            )
            return cursor.rowcount

        return await self._db.run(cancel)

    async def cancelled(self, delivery: Delivery) -> bool:
        state = await self.get(delivery.id)
        return state is None or state.status == "cancelled"

    async def note_pending(self, job_id: str, token: str) -> None:
        await self._db.run(
            lambda c: c.execute(
                "UPDATE jobs SET payload = json_set(payload, '$.pending', ?)"
                " WHERE id = ? AND payload IS NOT NULL",
                (token, job_id),
            )
        )

    async def failed(self) -> AsyncIterator[JobState]:
        rows = await self._db.run(lambda c: c.execute(_FAILED_JOBS).fetchall())
        for row in rows:
            yield _state(row)

    async def depth(self) -> QueueDepth:
        def depth(connection: sqlite3.Connection) -> QueueDepth:
            pending, failed = connection.execute(
                "SELECT count(*) FILTER (WHERE status IN ('queued', 'retrying', 'running')),"
                " count(*) FILTER (WHERE status = 'failed') FROM jobs"
            ).fetchone()
            return QueueDepth(pending=pending, failed=failed)

        return await self._db.run(depth)

    async def retry_failed(self) -> int:
        def retry(connection: sqlite3.Connection) -> int:
            now = time.time()
            # A fresh budget (JOB_MAX_ATTEMPTS more, JOB_MAX_AGE_SECONDS from now); attempts
            # keep counting, so the next delivery still removes what a failed one stored.
            cursor = connection.execute(
                "UPDATE jobs SET status = 'queued', budget_from = attempts, budget_since = ?,"
                " updated_at = ?, next_at = ?, reason = NULL"
                " WHERE status = 'failed' AND payload IS NOT NULL",
                (now, now, now),
            )
            return cursor.rowcount

        count = await self._db.run(retry)
        self._wake.set()
        return count

    # --- the worker side -------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            free = self._settings.job_concurrency - len(self._running)
            claimed: list[tuple[Delivery, _Budget]] = []
            if free > 0:
                try:
                    claimed = await self._db.run(functools.partial(self._claim, limit=free))
                except ProviderUnavailableError as exc:
                    logger.error("cannot claim jobs: %s", exc)
            for delivery, budget in claimed:
                task = asyncio.create_task(self._work(delivery, budget), name=f"job-{delivery.id}")
                self._running[delivery.id] = task
                task.add_done_callback(functools.partial(self._finished, delivery.id))
            if time.monotonic() >= self._next_upkeep:
                self._next_upkeep = time.monotonic() + _UPKEEP_SECONDS
                await self._upkeep()
            if not claimed or len(self._running) >= self._settings.job_concurrency:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)

    def _finished(self, job_id: str, _task: "asyncio.Task[None]") -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    @staticmethod
    def _claim(connection: sqlite3.Connection, limit: int) -> list[tuple[Delivery, _Budget]]:
        now = time.time()
        rows = connection.execute(
            "SELECT id, user_id, payload, attempts, created_at, budget_from, budget_since"
            " FROM jobs AS j"
            " WHERE status IN ('queued', 'retrying') AND next_at <= ?"
            "   AND NOT EXISTS (SELECT 1 FROM jobs AS e WHERE e.user_id = j.user_id"
            "     AND e.status IN ('queued', 'retrying', 'running') AND e.seq < j.seq)"
            " ORDER BY seq LIMIT ?",
            (now, limit),
        ).fetchall()
        deliveries = []
        for row in rows:
            connection.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, next_at = NULL,"
                " updated_at = ? WHERE id = ?",
                (now, row["id"]),
            )
            payload = json.loads(row["payload"])
            budget = _Budget(row["budget_from"], row["budget_since"] or row["created_at"])
            deliveries.append(
                (
                    Delivery(
                        id=row["id"],
                        user_id=row["user_id"],
                        messages=payload["messages"],
                        metadata=payload["metadata"],
                        attempt=row["attempts"] + 1,
                        created_at=row["created_at"],
                        request_id=payload.get("request_id"),
                        pending=payload.get("pending"),
                    ),
                    budget,
                )
            )
        return deliveries

    async def _work(self, delivery: Delivery, budget: "_Budget") -> None:
        assert self._handler is not None
        log = operations.bind(
            operation="store_conversation",
            job_id=delivery.id,
            user_id=delivery.user_id,
            attempt=delivery.attempt,
            request_id=delivery.request_id,
        )
        started = time.perf_counter()
        try:
            memory_ids = await self._handler(delivery)
        except asyncio.CancelledError:
            raise  # shutdown past the grace period: close() hands the job back
        except Exception as exc:
            outcome = await self._attempt_failed(delivery, budget, exc, log)
            metrics.observe_job(outcome, time.perf_counter() - started)
            return
        seconds = time.perf_counter() - started
        latency_ms = round(seconds * 1000, 1)
        if memory_ids is None:
            log.info("conversation not stored: job cancelled", outcome="cancelled")
            metrics.observe_job("cancelled", seconds)
            return
        await self._db.run(
            lambda c: c.execute(
                "UPDATE jobs SET status = 'done', payload = NULL, memory_ids = ?, reason = NULL,"
                " updated_at = ? WHERE id = ? AND status = 'running'",
                (json.dumps(memory_ids), time.time(), delivery.id),
            )
        )
        log.info(
            "conversation stored", outcome="ok", memories=len(memory_ids), latency_ms=latency_ms
        )
        metrics.observe_job("done", seconds)

    async def _attempt_failed(
        self, delivery: Delivery, budget: "_Budget", exc: Exception, log: Any
    ) -> str:
        """Record the failed attempt: the job retries or fails. Returns which."""
        if isinstance(exc, ProviderUnavailableError):
            metrics.provider_failed(exc.component)
        if isinstance(exc, ProviderUnavailableError | ProviderRejectedError):
            reason = str(exc)
        else:
            reason = f"{type(exc).__name__}: internal error"
            log.error("conversation job raised", exc_info=exc)
        now = time.time()
        # A refused conversation would be refused again: no retry.
        refused = isinstance(exc, ProviderRejectedError)
        attempts = delivery.attempt - budget.attempts_before
        if refused or self._policy.gives_up(attempts, budget.since, now):
            status, next_at = "failed", None
            log.error("conversation not stored: job failed", outcome="failed", reason=reason)
        else:
            status, next_at = "retrying", now + self._policy.delay(delivery.attempt)
            log.warning(
                "conversation not stored yet: will retry",
                outcome="retrying",
                reason=reason,
                retry_in_s=round(next_at - now, 1),
            )
        await self._db.run(
            lambda c: c.execute(
                "UPDATE jobs SET status = ?, next_at = ?, reason = ?, updated_at = ?"
                " WHERE id = ? AND status = 'running'",
                (status, next_at, reason, now, delivery.id),
            )
        )
        return status

    async def _upkeep(self) -> None:
        def upkeep(connection: sqlite3.Connection) -> int:
            now = time.time()
            connection.execute("DELETE FROM idempotency WHERE expires_at <= ?", (now,))
            cursor = connection.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'cancelled') AND updated_at <= ?",
                (now - self._settings.job_retention_seconds,),
            )
            return cursor.rowcount

        try:
            purged = await self._db.run(upkeep)
        except ProviderUnavailableError as exc:
            logger.error("job queue upkeep failed: %s", exc)
            return
        if purged:
            logger.info("purged %d finished jobs past JOB_RETENTION_SECONDS", purged)
