"""Mode-agnostic shapes shared by the service and the backend."""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol, TypedDict

MetadataValue = str | int | float | bool
# Metadata the service writes on every memory a conversation job stores: which job stored it,
# so that a redelivered job can first remove what an interrupted delivery left. Never shown.
JOB_KEY = "job_id"
HIDDEN_KEYS = frozenset({JOB_KEY})
# Where a conversation job carries its memories' expiry (a YYYY-MM-DD date), in the job's
# metadata: each backend hands it to its store as the store's own expiry, never as metadata.
EXPIRY_KEY = "expiration_date"
# Keys mem0 keeps beside a memory's text (its scopes and bookkeeping): a memory's metadata
# never shows them, and callers can neither set nor filter on them.
MEM0_MANAGED_KEYS = frozenset(
    {"agent_id", "run_id", "actor_id", "role", "attributed_to", "expiration_date"}
)
# The fields of a mem0 record itself, which metadata must not shadow.
MEM0_RECORD_KEYS = frozenset(
    {
        "id",
        "memory",
        "data",
        "hash",
        "score",
        "metadata",
        "created_at",
        "updated_at",
        "text_lemmatized",
    }
)

Role = Literal["user", "assistant", "system"]


class Message(TypedDict):
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One memory, in the same shape whatever backend stored it."""

    id: str
    memory: str
    user_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    score: float | None = None
    expires_at: str | None = None  # the last day (UTC) it is shown, YYYY-MM-DD

    @property
    def expired(self) -> bool:
        """Whether its last day has passed: searches and lists no longer show it."""
        try:
            last_day = date.fromisoformat(self.expires_at or "")
        except ValueError:
            return False  # no expiry (or one no store would apply)
        return last_day < datetime.now(UTC).date()

    @property
    def created(self) -> datetime:
        """`created_at` as a time, for ordering: stores write ISO 8601 texts whose offsets and
        precisions differ, so their text order is not their time order. Unknown: the oldest."""
        try:
            moment = datetime.fromisoformat(self.created_at or "")
        except ValueError:
            return datetime.min.replace(tzinfo=UTC)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of a memory: `ADD`, `UPDATE` (from `old_memory` to `new_memory`) or `DELETE`."""

    event: str
    old_memory: str | None
    new_memory: str | None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "HistoryEntry":
        """From a history row, in the shape every backend reads from Mem0."""
        return cls(
            event=str(row.get("event", "")),
            old_memory=row.get("old_memory"),
            new_memory=row.get("new_memory"),
            created_at=row.get("created_at"),
            updated_at=row.get("updated_at"),
        )


@dataclass(frozen=True, slots=True)
class NewExpiry:
    """An update's change of expiry: a new last day (YYYY-MM-DD), or None: never expires."""

    last_day: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    """A user's memories, newest first, as far as MEMORY_LIST_MAX reaches. `truncated`: the
    user has more than that, and `items` holds only as many (see `MemoryService`)."""

    items: list[MemoryItem]
    truncated: bool


@dataclass(frozen=True, slots=True)
class UserSummary:
    """What `GET /summary` shows: counts, preferences by category, the latest memories."""

    total_memories: int
    truncated: bool
    preferences: dict[str, list[str]]
    recent_memories: list[MemoryItem]


@dataclass(frozen=True, slots=True)
class InFlight:
    """A job's memory of a write its provider accepted and processes later. `pending` is what
    an earlier delivery of the job left in flight (None: nothing); `note(token)` records a new
    one durably, before the write is waited on, so that no redelivery writes it twice;
    `discard_earlier()` removes what earlier deliveries stored, before writing again when
    the pending write cannot be followed."""

    pending: str | None
    note: Callable[[str], Awaitable[None]]
    discard_earlier: Callable[[], Awaitable[None]]


class MemoryBackend(Protocol):
    """What the service needs from a memory store; `backend.py` implements it (self-hosted:
    over the `store.py` vector store)."""

    async def add(
        self,
        user_id: str,
        messages: list[Message],
        metadata: dict[str, MetadataValue],
        *,
        infer: bool,
        in_flight: InFlight | None = None,
    ) -> list[MemoryItem]:
        """Store the messages (extracting facts with `infer`) and return the new memories; an
        `EXPIRY_KEY` in `metadata` is the memories' expiry. A
        provider that finishes writes later uses `in_flight` to follow an earlier delivery's
        write rather than repeat it; one that writes before answering has no use for it."""
        ...

    async def search(
        self, user_id: str, query: str, limit: int, filters: dict[str, MetadataValue]
    ) -> list[MemoryItem]: ...

    async def get_all(
        self,
        user_id: str,
        filters: dict[str, MetadataValue],
        limit: int,
        *,
        include_expired: bool = False,
    ) -> list[MemoryItem]: ...

    async def get(self, memory_id: str) -> MemoryItem | None: ...

    async def update(
        self,
        memory_id: str,
        text: str | None,
        metadata: dict[str, MetadataValue] | None,
        expiry: NewExpiry | None = None,
    ) -> MemoryItem | None:
        """Change a memory's text, merge `metadata` into its own and change its expiry (what
        is None stays); the memory as it is now (None: no such memory). Its history gets an
        `UPDATE` entry."""
        ...

    async def history(self, memory_id: str) -> list[HistoryEntry]:
        """The memory's changes, oldest first."""
        ...

    async def delete(self, memory_id: str) -> None: ...

    @property
    def export_ceiling(self) -> int | None:
        """The most memories of one user `export` can read (None: every one)."""
        ...

    def export(self, user_id: str) -> AsyncIterator[tuple[MemoryItem, list[HistoryEntry]]]:
        """Every memory of the user with its history, read from the store a page at a time."""
        ...

    async def delete_user(self, user_id: str) -> int: ...

    async def ping(self) -> str | None: ...

    async def close(self) -> None: ...
