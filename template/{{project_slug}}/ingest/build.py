"""Pick the job queue the settings ask for."""

from ..settings import Settings
from .model import JobQueue, RetryPolicy


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.job_max_attempts,
        max_age_seconds=settings.job_max_age_seconds,
        base_seconds=settings.job_retry_base_seconds,
        cap_seconds=settings.job_retry_max_seconds,
    )


def open_queue(settings: Settings) -> JobQueue:
    """The embedded SQLite queue, or the Redis queue when JOB_QUEUE_URL is set."""
    if settings.job_queue_url:
        from .distributed import RedisJobQueue

        return RedisJobQueue(settings, retry_policy(settings))
    from .embedded import SQLiteJobQueue

    return SQLiteJobQueue(settings, retry_policy(settings))
