"""Settings of the search cache."""

from pydantic import Field, model_validator

from ...ingest.settings import JobSettings


class CacheSettings(JobSettings):
    # Unset: the cache lives in this process (one worker). Shared by every process when set.
    redis_url: str | None = None
    memory_cache_ttl_seconds: int = Field(300, ge=1)
    memory_cache_max_entries: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _shared_with_workers(self) -> "CacheSettings":
        if self.job_queue_url and not self.redis_url:
            # Worker processes store the memories: an in-process cache would never hear of it.
            raise ValueError(
                "With JOB_QUEUE_URL set, set REDIS_URL too, so that the search cache is shared "
                "with the worker processes that write memories"
            )
        return self
