"""Settings of the search cache."""

from pydantic import AliasChoices, Field, model_validator

from ...ingest.settings import JobSettings


class CacheSettings(JobSettings):
    # Unset: the cache lives in this process (one worker). Shared by every process when set.
    redis_url: str | None = None
    # Named MEMORY_CACHE_* before 0.2.0: the old names are still read (the update renames
    # them in .env; see CHANGELOG.md), so a deployment's environment keeps its values.
    search_cache_ttl_seconds: int = Field(
        300,
        ge=1,
        validation_alias=AliasChoices("search_cache_ttl_seconds", "memory_cache_ttl_seconds"),
    )
    search_cache_max_entries: int = Field(
        10_000,
        ge=1,
        validation_alias=AliasChoices("search_cache_max_entries", "memory_cache_max_entries"),
    )

    @model_validator(mode="after")
    def _shared_with_workers(self) -> "CacheSettings":
        if self.job_queue_url and not self.redis_url:
            # Worker processes store the memories: an in-process cache would never hear of it.
            raise ValueError(
                "With JOB_QUEUE_URL set, set REDIS_URL too, so that the search cache is shared "
                "with the worker processes that write memories"
            )
        return self
