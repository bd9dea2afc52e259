"""Request and response models. Structural limits live here; size limits that come from
settings (message count, text lengths, search limit) are checked in the router."""

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .domain import MemoryItem, MetadataValue, Role

IDENTITY_KEYS = frozenset({"user_id", "agent_id", "run_id"})
# Keys mem0 or this service write themselves; callers may filter on some of them but never set them.
SERVICE_KEYS = frozenset({"type", "category", "session_id"})
MEM0_KEYS = frozenset(
    {
        "data",
        "memory",
        "hash",
        "id",
        "score",
        "metadata",
        "created_at",
        "updated_at",
        "text_lemmatized",
        "actor_id",
        "role",
        "attributed_to",
        "expiration_date",
    }
)
_KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
MAX_METADATA_KEYS = 20
MAX_METADATA_STRING = 500

SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9_-]{1,50}$")
]


def _check_keys(values: dict[str, MetadataValue], *, forbidden: frozenset[str], what: str) -> None:
    if len(values) > MAX_METADATA_KEYS:
        raise ValueError(f"{what} may have at most {MAX_METADATA_KEYS} keys")
    for key, value in values.items():
        if key in IDENTITY_KEYS:
            raise ValueError(
                f"{what} key '{key}' is not allowed: the user id comes from your access token"
            )
        if key in forbidden:
            raise ValueError(f"{what} key '{key}' is reserved by the service")
        if not _KEY_PATTERN.match(key):
            raise ValueError(
                f"{what} key '{key}' is invalid: use letters, digits, '_', '.' or '-' "
                "(at most 64 characters, starting with a letter or '_')"
            )
        if isinstance(value, str) and len(value) > MAX_METADATA_STRING:
            raise ValueError(
                f"{what} value for '{key}' is longer than {MAX_METADATA_STRING} characters"
            )


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatMessage(_Request):
    role: Role
    content: str

    _content_not_blank = field_validator("content")(_not_blank)


class ConversationRequest(_Request):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation, oldest first.")
    session_id: SessionId | None = Field(None, description="Groups memories from one chat session.")
    metadata: dict[str, MetadataValue] | None = Field(
        None, description="Flat key/value pairs stored with every memory of this conversation."
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_keys(
        cls, value: dict[str, MetadataValue] | None
    ) -> dict[str, MetadataValue] | None:
        if value is not None:
            _check_keys(value, forbidden=SERVICE_KEYS | MEM0_KEYS, what="metadata")
        return value


class SearchRequest(_Request):
    query: str = Field(description="What to look for, in natural language.")
    limit: int | None = Field(None, ge=1, description="How many results (default 5, at most 20).")
    filters: dict[str, MetadataValue] | None = Field(
        None, description='Exact-match filters on memory metadata, e.g. {"category": "food"}.'
    )

    _query_not_blank = field_validator("query")(_not_blank)

    @field_validator("filters")
    @classmethod
    def _filter_keys(
        cls, value: dict[str, MetadataValue] | None
    ) -> dict[str, MetadataValue] | None:
        if value is not None:
            _check_keys(value, forbidden=MEM0_KEYS, what="filters")
        return value


class PreferenceRequest(_Request):
    preference: str = Field(description="The preference, in the user's words.")
    category: Category = Field("general", description="Lowercase letters, digits, '_' or '-'.")

    _preference_not_blank = field_validator("preference")(_not_blank)


class MemoryOut(BaseModel):
    id: str
    memory: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    score: float | None = None

    @classmethod
    def of(cls, item: MemoryItem) -> "MemoryOut":
        return cls(
            id=item.id,
            memory=item.memory,
            metadata=item.metadata,
            created_at=item.created_at,
            updated_at=item.updated_at,
            score=item.score,
        )


class ConversationAccepted(BaseModel):
    status: str = "accepted"
    messages: int
    detail: str = "The conversation is being turned into memories in the background."


class SearchResponse(BaseModel):
    query: str
    results: list[MemoryOut]
    count: int


class Summary(BaseModel):
    total_memories: int
    preferences: dict[str, list[str]]
    recent_memories: list[MemoryOut]


class SummaryResponse(BaseModel):
    user_id: str
    summary: Summary


class PreferenceList(BaseModel):
    results: list[MemoryOut]
    count: int


class MemoryPage(BaseModel):
    results: list[MemoryOut]
    count: int
    total: int
    limit: int
    offset: int


class ForgetResponse(BaseModel):
    deleted: int
