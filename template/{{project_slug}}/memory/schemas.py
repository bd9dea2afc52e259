"""Request and response models: the API's contract, limits included.

Every rule a request must follow is in its schema, so the OpenAPI document says exactly what
the service accepts and the service refuses (422, see `errors.py`) exactly what it excludes:
- text must be encodable as UTF-8 (JSON escapes can smuggle in lone surrogates), and where
  it must not be blank, the schema's `pattern` says so in terms every regex engine reads alike;
- metadata and filters are flat: a key from a small alphabet, a scalar value; filters are
  exact matches, so operator-like keys (`AND`, `or`, `$ne`...) and values a store reads as a
  pattern (`*`) are refused rather than passed to mem0;
- limits that come from settings (message count, text lengths, the search limit) are marked
  `SettingLimit(...)`: checked while a request is validated and shown in the schema, both
  with the settings of the app at hand (`use_limits`).
"""

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from ..ingest.model import JobState, JobStatus
from .domain import (
    EXPIRY_KEY,
    HIDDEN_KEYS,
    MEM0_MANAGED_KEYS,
    MEM0_RECORD_KEYS,
    MemoryItem,
    Message,
    MetadataValue,
    NewExpiry,
    Role,
)
from .limits import MemoryLimits

IDENTITY_KEYS = frozenset({"user_id", "agent_id", "run_id"})
# Keys mem0 or this service write themselves; callers may filter on some of them but never set them.
SERVICE_KEYS = frozenset({"type", "category", "session_id", *HIDDEN_KEYS})
MEM0_KEYS = MEM0_RECORD_KEYS | MEM0_MANAGED_KEYS
# Logical operators of mem0's filter language, refused in any case.
OPERATOR_KEYS = frozenset({"and", "or", "not"})
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
# Idempotency keys: visible ASCII, as an HTTP header carries them.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
MAX_METADATA_KEYS = 20
MAX_METADATA_STRING = 500
# Integers JSON readers in every language hold exactly (and every store can index).
MAX_SAFE_INTEGER = 2**53 - 1

# Python's whitespace (str.isspace), spelled out so that Python, JSON Schema (ECMA-262) and
# Rust regex engines agree on what a blank string is.
_WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_PATTERN = f"[^{_WHITESPACE}]"
WILDCARD_PATTERN = f"^[{_WHITESPACE}*]*[*][{_WHITESPACE}*]*$"
_NON_BLANK = re.compile(NON_BLANK_PATTERN)
_WILDCARD = re.compile(WILDCARD_PATTERN)
_KEY = re.compile(KEY_PATTERN)


# --- Limits from settings ----------------------------------------------------------------

_LIMITS: ContextVar[Mapping[str, int] | None] = ContextVar("request_limits", default=None)


def _limit(setting: str) -> int:
    limits = _LIMITS.get()
    if limits is not None:
        return limits[setting]
    default: int = MemoryLimits.model_fields[setting].default
    return default


def _limits_of(settings: MemoryLimits) -> dict[str, int]:
    return {name: getattr(settings, name) for name in SettingLimit.settings}


def set_limits(settings: MemoryLimits) -> None:
    """Validate the rest of this request (this context) against `settings`' limits."""
    _LIMITS.set(_limits_of(settings))


@contextmanager
def use_limits(settings: MemoryLimits) -> Iterator[None]:
    """Within the block, `SettingLimit`s read `settings` (e.g. to generate the OpenAPI)."""
    token = _LIMITS.set(_limits_of(settings))
    try:
        yield
    finally:
        _LIMITS.reset(token)


@dataclass(frozen=True)
class SettingLimit:
    """An upper bound read from a setting: `maxLength` of a string, `maxItems` of a list,
    `maximum` of an integer. Refusals use pydantic's own error types and messages."""

    setting: str
    settings = (
        "memory_max_messages",
        "memory_max_message_chars",
        "memory_max_query_chars",
        "memory_max_preference_chars",
        "memory_search_limit_max",
        "memory_max_batch",
    )

    def __post_init__(self) -> None:
        if self.setting not in self.settings:
            raise ValueError(f"{self.setting} is not a limit SettingLimit knows")

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        return core_schema.no_info_after_validator_function(self._checker(schema["type"]), schema)

    def _checker(self, kind: str) -> Callable[[Any], Any]:
        def check(value: Any) -> Any:
            bound = _limit(self.setting)
            if kind == "str" and len(value) > bound:
                raise PydanticKnownError("string_too_long", {"max_length": bound})
            if kind == "list" and len(value) > bound:
                context = {"field_type": "List", "max_length": bound, "actual_length": len(value)}
                raise PydanticKnownError("too_long", context)
            if kind == "int" and value > bound:
                raise PydanticKnownError("less_than_equal", {"le": bound})
            return value

        return check

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        keyword = {"string": "maxLength", "array": "maxItems", "integer": "maximum"}
        json_schema[keyword[json_schema["type"]]] = _limit(self.setting)
        return json_schema


# --- Text ----------------------------------------------------------------------------------


def _encodable(value: Any) -> Any:
    """Refuse strings with lone surrogates: no store, log or answer can encode them."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "string_not_utf8",
                "Text must be valid Unicode: it has a lone surrogate (\\u{code}) at "
                "position {position}, which cannot be encoded as UTF-8",
                {"code": f"{ord(value[exc.start]):04x}", "position": exc.start},
            ) from None
    return value


def _integral(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer: so does the service (and nothing else)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _not_blank(value: str) -> str:
    if not _NON_BLANK.search(value):
        raise PydanticCustomError("string_blank", "must not be empty or only whitespace")
    return value


@dataclass(frozen=True, eq=False)  # hashed by identity: its keywords are a dict
class _Documented:
    """Adds JSON Schema keywords to a type's schema (what a validator checks in code)."""

    keywords: Mapping[str, Any]

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(self.keywords)
        return json_schema


Utf8 = BeforeValidator(_encodable)
"""Put it last in `Annotated[...]`: it then runs first, before any pattern or length.
(`SettingLimit` goes first, right after the type it bounds.)"""

NotBlank = AfterValidator(_not_blank)
NOT_BLANK_SCHEMA = _Documented({"minLength": 1, "pattern": NON_BLANK_PATTERN})

SessionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$"), Utf8]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_text(value: Any) -> Any:
    """Only `YYYY-MM-DD` text: pydantic would also read numbers and date-times as dates."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise PydanticCustomError("date_text", "must be a date written YYYY-MM-DD")
    return value


ExpiryDate = Annotated[
    date,
    Field(
        strict=False,  # from its JSON text
        description="The last day (UTC) the memory is shown: from the next day searches, "
        "lists, preferences and the summary leave it out (it stays stored, readable by id "
        "and exported, until deleted). A past date hides it at once.",
    ),
    BeforeValidator(_date_text),
]
CATEGORY_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"


def _lowercase(value: str) -> str:
    return value.lower()


Category = Annotated[
    str,
    Field(pattern=CATEGORY_PATTERN, description="Letters, digits, '_' or '-'; stored lowercase."),
    AfterValidator(_lowercase),
    Utf8,
]


# --- Flat metadata and filters -------------------------------------------------------------


def _scalar_schema(*, filters: bool) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "maxLength": MAX_METADATA_STRING}
    if filters:
        text["not"] = {"pattern": WILDCARD_PATTERN}
    # JSON Schema counts 2.0 as an integer, as the validator below does.
    integer = {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
    kinds: list[dict[str, Any]] = [text, integer, {"type": "boolean"}]
    if not filters:
        kinds.insert(2, {"type": "number", "not": {"type": "integer"}})
    return {"anyOf": kinds}


def _flat_schema(*, forbidden: frozenset[str], filters: bool) -> dict[str, Any]:
    spellings = sorted(_spellings(OPERATOR_KEYS))
    return {
        "type": "object",
        "maxProperties": MAX_METADATA_KEYS,
        "propertyNames": {
            "pattern": KEY_PATTERN,
            "not": {"enum": sorted(IDENTITY_KEYS | forbidden) + spellings},
        },
        "additionalProperties": _scalar_schema(filters=filters),
    }


def _spellings(words: frozenset[str]) -> set[str]:
    """Every upper/lower-case spelling of each word (`and`, `And`, ... `AND`)."""
    result: set[str] = set()
    for word in words:
        spellings = {""}
        for char in word:
            spellings = {s + c for s in spellings for c in (char.lower(), char.upper())}
        result |= spellings
    return result


def _check_flat(value: Any, *, forbidden: frozenset[str], what: str, filters: bool) -> Any:
    if not isinstance(value, dict):
        return value  # pydantic then says it must be an object
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"{what} may have at most {MAX_METADATA_KEYS} keys")
    checked: dict[str, MetadataValue] = {}
    for key, item in value.items():
        _encodable(key)
        _check_key(key, forbidden=forbidden, what=what, filters=filters)
        checked[key] = _check_scalar(key, item, what=what, filters=filters)
    return checked


def _check_key(key: Any, *, forbidden: frozenset[str], what: str, filters: bool) -> None:
    if not isinstance(key, str):
        raise ValueError(f"{what} keys must be strings")
    if key in IDENTITY_KEYS:
        raise ValueError(
            f"{what} key '{key}' is not allowed: the user id comes from your access token"
        )
    if key.lower() in OPERATOR_KEYS:
        raise ValueError(
            f"{what} key '{key}' is not allowed: "
            + (
                'filters are flat exact matches ({"key": value}); logical operators such '
                "as AND, OR and NOT are not supported"
                if filters
                else "AND, OR and NOT (in any case) are reserved for filter operators"
            )
        )
    if key in forbidden:
        raise ValueError(f"{what} key '{key}' is reserved by the service")
    if not _KEY.match(key):
        raise ValueError(
            f"{what} key '{key}' is invalid: use letters, digits, '_' or '-' "
            "(at most 64 characters, starting with a letter or '_'; operators such as "
            "'$ne' are not supported)"
        )


def _check_scalar(key: str, item: Any, *, what: str, filters: bool) -> MetadataValue:
    kinds = "a string, an integer or a boolean" if filters else "a string, a number or a boolean"
    if isinstance(item, str):
        _encodable(item)
        if len(item) > MAX_METADATA_STRING:
            raise ValueError(
                f"{what} value for '{key}' is longer than {MAX_METADATA_STRING} characters"
            )
        if filters and _WILDCARD.match(item):
            raise ValueError(
                f"filters value for '{key}' is a wildcard ('*'); filters match exactly, so "
                "leave the key out to match any value"
            )
        return item
    if isinstance(item, bool):
        return item
    if isinstance(item, float) and not math.isfinite(item):
        raise ValueError(f"{what} value for '{key}' must be a finite number")
    if isinstance(item, int | float):
        if item == int(item):  # an integer, whether JSON wrote it 2 or 2.0
            if abs(item) > MAX_SAFE_INTEGER:
                raise ValueError(
                    f"{what} value for '{key}' is out of range: integers must be within "
                    f"±{MAX_SAFE_INTEGER}"
                )
            return int(item) if filters else item
        if filters:
            raise ValueError(
                f"filters value for '{key}' must be {kinds}: numbers with a fraction do not "
                "match exactly"
            )
        return item
    nesting = "operators and nested values are not supported" if filters else "no nesting"
    raise ValueError(f"{what} value for '{key}' must be {kinds} ({nesting})")


def _check_metadata(value: Any) -> Any:
    return _check_flat(value, forbidden=SERVICE_KEYS | MEM0_KEYS, what="metadata", filters=False)


def _check_filters(value: Any) -> Any:
    return _check_flat(value, forbidden=MEM0_KEYS | HIDDEN_KEYS, what="filters", filters=True)


# Flat key/value objects: each checked by one validator (clear messages, one at a time) and
# documented by one hand-written schema (pydantic's own would admit keys outside the pattern).
Metadata = Annotated[
    dict[str, MetadataValue],
    WithJsonSchema(_flat_schema(forbidden=SERVICE_KEYS | MEM0_KEYS, filters=False)),
    BeforeValidator(_check_metadata),
]
Filters = Annotated[
    dict[str, MetadataValue],
    WithJsonSchema(_flat_schema(forbidden=MEM0_KEYS | HIDDEN_KEYS, filters=True)),
    BeforeValidator(_check_filters),
]


# --- Requests ----------------------------------------------------------------------------


class _Request(BaseModel):
    # Strict: a value of the wrong JSON type is refused, never converted ("5" is no integer).
    model_config = ConfigDict(extra="forbid", strict=True)


class ChatMessage(_Request):
    role: Role
    content: Annotated[
        str, SettingLimit("memory_max_message_chars"), NotBlank, NOT_BLANK_SCHEMA, Utf8
    ]


class ConversationRequest(_Request):
    messages: Annotated[
        list[ChatMessage],
        Field(min_length=1, description="The conversation, oldest first."),
        SettingLimit("memory_max_messages"),
    ]
    session_id: SessionId | None = Field(None, description="Groups memories from one chat session.")
    metadata: Metadata | None = Field(
        None, description="Flat key/value pairs stored with every memory of this conversation."
    )
    expires_at: ExpiryDate | None = None

    def conversation(self) -> tuple[list[Message], dict[str, MetadataValue]]:
        """The messages and the metadata every memory of the conversation is stored with."""
        messages: list[Message] = [{"role": m.role, "content": m.content} for m in self.messages]
        metadata = dict(self.metadata or {})
        if self.session_id is not None:
            metadata["session_id"] = self.session_id
        if self.expires_at is not None:
            metadata[EXPIRY_KEY] = self.expires_at.isoformat()
        return messages, metadata


class ConversationBatchRequest(_Request):
    conversations: Annotated[
        list[ConversationRequest],
        Field(min_length=1, description="Each becomes its own job, queued in this order."),
        SettingLimit("memory_max_batch"),
    ]


def _distinct(ids: list[UUID]) -> list[UUID]:
    if len(set(ids)) != len(ids):
        raise PydanticCustomError("ids_not_unique", "must not name a memory twice")
    return ids


class MemoryIdsRequest(_Request):
    memory_ids: Annotated[
        list[Annotated[UUID, Field(strict=False)]],  # JSON has no UUIDs: from their text
        Field(min_length=1, json_schema_extra={"uniqueItems": True}),
        SettingLimit("memory_max_batch"),
        AfterValidator(_distinct),
    ] = Field(description="Memories to delete: all of them yours, or none is deleted.")


class SearchRequest(_Request):
    query: Annotated[
        str, SettingLimit("memory_max_query_chars"), NotBlank, NOT_BLANK_SCHEMA, Utf8
    ] = Field(description="What to look for, in natural language.")
    limit: (
        Annotated[
            int, Field(ge=1), SettingLimit("memory_search_limit_max"), BeforeValidator(_integral)
        ]
        | None
    ) = Field(None, description="How many results (default 5).")
    filters: Filters | None = Field(
        None,
        description='Exact matches on memory metadata, e.g. {"category": "food"}: flat, no '
        "operators, no wildcards.",
    )


class PreferenceRequest(_Request):
    preference: Annotated[
        str, SettingLimit("memory_max_preference_chars"), NotBlank, NOT_BLANK_SCHEMA, Utf8
    ] = Field(description="The preference, in the user's words.")
    category: Category = "general"
    expires_at: ExpiryDate | None = None


MemoryText = Annotated[
    str, SettingLimit("memory_max_preference_chars"), NotBlank, NOT_BLANK_SCHEMA, Utf8
]


class MemoryUpdate(_Request):
    """At least one change: what is left out stays as it is."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["memory"], "properties": {"memory": {"type": "string"}}},
                {
                    "required": ["metadata"],
                    "properties": {"metadata": {"type": "object", "minProperties": 1}},
                },
                {"required": ["expires_at"]},
            ]
        }
    )

    memory: MemoryText | None = Field(None, description="The memory's new text.")
    metadata: Metadata | None = Field(
        None,
        description="Keys to set or change, merged into the memory's metadata (keys left out "
        "keep their values; the service's own keys, such as type and category, cannot be set).",
    )
    expires_at: ExpiryDate | None = Field(
        None, description="A new last day (UTC) to show the memory; null: it never expires."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> "MemoryUpdate":
        if self.memory is None and not self.metadata and self.expiry is None:
            raise PydanticCustomError(
                "nothing_to_update",
                "give the new text (memory), metadata to set or an expiry (expires_at)",
            )
        return self

    @property
    def expiry(self) -> NewExpiry | None:
        """The change of expiry, if any: `expires_at` given (a date, or null to clear it)."""
        if "expires_at" not in self.model_fields_set:
            return None
        return NewExpiry(self.expires_at.isoformat() if self.expires_at else None)


# --- Responses ---------------------------------------------------------------------------


class MemoryOut(BaseModel):
    id: str
    memory: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    score: float | None = None
    expires_at: str | None = Field(None, description="The last day (UTC) it is shown.")
    expired: bool = Field(False, description="Its last day has passed.")

    @classmethod
    def of(cls, item: MemoryItem) -> "MemoryOut":
        return cls(
            id=item.id,
            memory=item.memory,
            metadata={k: v for k, v in item.metadata.items() if k not in HIDDEN_KEYS},
            created_at=item.created_at,
            updated_at=item.updated_at,
            score=item.score,
            expires_at=item.expires_at,
            expired=item.expired,
        )


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


class JobOut(BaseModel):
    """What became of an accepted conversation."""

    job_id: str
    status: JobStatus = Field(
        description="`queued`, `running`, `retrying` (an attempt failed; see `reason` and "
        "`next_attempt_at`), `done` (see `memory_ids`), `failed` (retries exhausted; see "
        "`reason`) or `cancelled` (you were forgotten before it ran)."
    )
    attempts: int = Field(description="Deliveries to a worker so far.")
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    reason: str | None = Field(None, description="Why the last attempt failed.")
    memory_ids: list[str] = Field(
        default_factory=list, description="The memories the conversation produced (when done)."
    )

    @classmethod
    def of(cls, job: JobState) -> "JobOut":
        return cls(
            job_id=job.id,
            status=job.status,
            attempts=job.attempts,
            created_at=datetime.fromtimestamp(job.created_at, UTC),
            updated_at=datetime.fromtimestamp(job.updated_at, UTC),
            next_attempt_at=_when(job.next_attempt_at),
            reason=job.reason,
            memory_ids=job.memory_ids,
        )


class ConversationAccepted(JobOut):
    messages: int
    detail: str = (
        "The conversation is stored durably and is being turned into memories; "
        "follow the Location header to see when it is done."
    )


class SearchResponse(BaseModel):
    query: str
    results: list[MemoryOut]
    count: int


Truncated = Annotated[
    bool,
    Field(
        description="The user has more memories than MEMORY_LIST_MAX, the most this service "
        "reads for a list: only that many were read, and counts stop there."
    ),
]


class Summary(BaseModel):
    total_memories: int
    truncated: Truncated
    preferences: dict[str, list[str]]
    recent_memories: list[MemoryOut]


class SummaryResponse(BaseModel):
    user_id: str
    summary: Summary


class PreferenceList(BaseModel):
    results: list[MemoryOut]
    count: int
    truncated: Truncated


class MemoryPage(BaseModel):
    results: list[MemoryOut]
    count: int
    total: int
    truncated: Truncated
    limit: int
    offset: int


class ForgetResponse(BaseModel):
    deleted: int


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from a HistoryEntry

    event: str = Field(description="`ADD`, `UPDATE` or `DELETE`.")
    old_memory: str | None = None
    new_memory: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class MemoryHistory(BaseModel):
    memory_id: str
    events: list[HistoryEntryOut] = Field(description="The memory's changes, oldest first.")


class BatchQueued(BaseModel):
    jobs: list[JobOut] = Field(description="The queued conversations' jobs, in request order.")
    queued: int
    not_queued: int = Field(
        description="Conversations at the end of the batch the queue refused (it was full or "
        "unavailable; see `detail` and Retry-After). Repeat the request with the same "
        "Idempotency-Key to queue them, or send just those again."
    )
    detail: str
