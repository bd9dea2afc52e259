"""Settings of the job queue (see the README, Durable ingestion)."""

from pathlib import Path

from pydantic import Field, model_validator

from ..config import ServiceSettings


class JobSettings(ServiceSettings):
    # Unset: an embedded queue in DATA_DIR/jobs.db, worked inside the service process.
    # A redis:// URL: a Redis queue; API processes only enqueue, `python -m <package>.worker`
    # processes store the conversations.
    job_queue_url: str | None = None
    job_concurrency: int = Field(64, ge=1, le=256)
    job_max_attempts: int = Field(20, ge=1, le=1000)
    job_max_age_seconds: int = Field(3600, ge=1)
    job_retry_base_seconds: float = Field(1.0, gt=0)
    job_retry_max_seconds: float = Field(30.0, gt=0)
    job_lease_seconds: int = Field(30, ge=2, le=3600)
    job_pending_max_per_user: int = Field(100, ge=1)
    job_pending_max: int = Field(10_000, ge=1)
    job_retention_seconds: int = Field(7 * 24 * 3600, ge=60)
    idempotency_ttl_seconds: int = Field(24 * 3600, ge=60)

    @model_validator(mode="after")
    def _coherent_job_settings(self) -> "JobSettings":
        if self.job_queue_url is not None and not self.job_queue_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("JOB_QUEUE_URL must be a redis://, rediss:// or unix:// URL")
        if self.idempotency_ttl_seconds > self.job_retention_seconds:
            # A replayed key must still find its job.
            raise ValueError("IDEMPOTENCY_TTL_SECONDS must not exceed JOB_RETENTION_SECONDS")
        if self.job_retry_base_seconds > self.job_retry_max_seconds:
            raise ValueError("JOB_RETRY_BASE_SECONDS must not exceed JOB_RETRY_MAX_SECONDS")
        return self

    @property
    def jobs_db_path(self) -> Path:
        return self.data_dir / "jobs.db"
