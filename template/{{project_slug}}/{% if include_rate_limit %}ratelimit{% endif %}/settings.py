"""Budgets per user and route group ("60/minute", "1000/hour", "5/2 seconds")."""

from limits import parse_many
from pydantic import ValidationInfo, field_validator

from ..config import EnvSettings


class RateLimitSettings(EnvSettings):
    # Unset: counters live in this process (one worker). Shared by every process when set.
    redis_url: str | None = None
    rate_limit_search: str = "60/minute"
    rate_limit_writes: str = "30/minute"
    rate_limit_reads: str = "120/minute"

    @field_validator("rate_limit_search", "rate_limit_writes", "rate_limit_reads")
    @classmethod
    def _valid_rate_limit(cls, value: str, info: ValidationInfo) -> str:
        name = (info.field_name or "rate limit").upper()
        try:
            items = parse_many(value)
        except ValueError:
            items = []
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(
                f"{name}={value!r} is not a rate limit: write one positive limit such as "
                '"60/minute", "1000/hour" or "5/2 seconds"'
            )
        return value
