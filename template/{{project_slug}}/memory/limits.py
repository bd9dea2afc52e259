"""Limits on what a caller may send and what a read returns (bad input answers 413/422)."""

from pydantic import Field

from ..config import EnvSettings


class MemoryLimits(EnvSettings):
    memory_max_messages: int = Field(50, ge=1)
    memory_max_message_chars: int = Field(8000, ge=1)
    memory_max_query_chars: int = Field(1000, ge=1)
    memory_max_preference_chars: int = Field(1000, ge=1)
    memory_search_limit_default: int = Field(5, ge=1)
    memory_search_limit_max: int = Field(20, ge=1)
    # Most conversations, or memory ids, one batch request may carry.
    memory_max_batch: int = Field(50, ge=1, le=1000)
    # Most memories read for lists, summaries and preferences (a store may lower the cap).
    memory_list_max: int = Field(1000, ge=1, le=10_000)
