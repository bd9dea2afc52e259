"""HTTP routes for memories: parse, call the service, shape the answer.

The router never touches mem0 or the job queue; the caller's user id comes only from
`UserId` (the token).
Requests are validated by their schemas (`schemas.py`), limits from settings included; each
route documents the errors it can answer with (`error_responses`).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from fastapi import Path as PathParam

from ..auth import UserId
from ..deps import AppSettings, Service, request_limits
from ..errors import (
    LOCATION_HEADER,
    PARTIAL_RETRY_AFTER_HEADER,
    REPLAYED_HEADER,
    error_responses,
    refusal_detail,
)
from .export import MEDIA_TYPE, NDJSONResponse, stream_export
from .schemas import (
    CATEGORY_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    JOB_ID_PATTERN,
    BatchQueued,
    ConversationAccepted,
    ConversationBatchRequest,
    ConversationRequest,
    ForgetResponse,
    HistoryEntryOut,
    JobOut,
    MemoryHistory,
    MemoryIdsRequest,
    MemoryOut,
    MemoryPage,
    MemoryUpdate,
    PreferenceList,
    PreferenceRequest,
    SearchRequest,
    SearchResponse,
    Summary,
    SummaryResponse,
)

MEMORY_PREFIX = "/api/v1/memory"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Any unique string (a UUID, say) per logical request: a retry with the "
        "same key and body gets the first answer and stores nothing twice; the same key with "
        "another body is refused (409). Remembered for IDEMPOTENCY_TTL_SECONDS.",
    ),
]


router = APIRouter(prefix=MEMORY_PREFIX, tags=["memory"], dependencies=[Depends(request_limits)])


def _job_location(job_id: str) -> str:
    return f"{router.prefix}/jobs/{job_id}"


@router.post(
    "/conversation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ConversationAccepted,
    summary="Store a conversation as memories (durably queued)",
    responses={
        202: {"headers": {"Location": LOCATION_HEADER, "Idempotent-Replayed": REPLAYED_HEADER}},
        **error_responses(401, 409, 413, 422, 429, 503),
    },
)
async def add_conversation(
    body: ConversationRequest,
    user_id: UserId,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ConversationAccepted:
    """The conversation is written to the job queue before this answers; a worker turns it
    into memories. `GET` the `Location` to see what became of it."""
    messages, metadata = body.conversation()
    accepted = await service.accept_conversation(user_id, messages, metadata, idempotency_key)
    response.headers["Location"] = _job_location(accepted.job.id)
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    job = JobOut.of(accepted.job)
    return ConversationAccepted(**job.model_dump(), messages=len(messages))


@router.post(
    "/batch/conversations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchQueued,
    summary="Store several conversations (each its own job)",
    responses={
        202: {
            "headers": {
                "Idempotent-Replayed": REPLAYED_HEADER,
                "Retry-After": PARTIAL_RETRY_AFTER_HEADER,
            }
        },
        **error_responses(401, 409, 413, 422, 429, 503),
    },
)
async def add_conversations(
    body: ConversationBatchRequest,
    user_id: UserId,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BatchQueued:
    """Each conversation is queued like `POST /conversation`, in order. When the queue
    refuses one midway, those before it stay queued: `not_queued` counts the rest."""
    conversations = [item.conversation() for item in body.conversations]
    batch = await service.accept_conversations(user_id, conversations, idempotency_key)
    if batch.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    detail = "Every conversation is stored durably and is being turned into memories."
    if batch.refusal is not None:
        detail = f"Only the first {len(batch.jobs)} were queued. {refusal_detail(batch.refusal)}"
        response.headers["Retry-After"] = str(batch.refusal.retry_after)
    return BatchQueued(
        jobs=[JobOut.of(job) for job in batch.jobs],
        queued=len(batch.jobs),
        not_queued=len(conversations) - len(batch.jobs),
        detail=detail,
    )


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    response_model_exclude_none=True,
    summary="What became of an accepted conversation",
    responses=error_responses(401, 404, 422, 503),
)
async def get_job(
    job_id: Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="From the 202.")],
    user_id: UserId,
    service: Service,
) -> JobOut:
    job = await service.job(user_id, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Job not found.")
    return JobOut.of(job)


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Search your memories",
    responses=error_responses(401, 413, 422, 503),
)
async def search_memories(
    body: SearchRequest, user_id: UserId, service: Service, settings: AppSettings
) -> SearchResponse:
    limit = body.limit or settings.memory_search_limit_default
    results = await service.search_memories(user_id, body.query, limit, body.filters)
    return SearchResponse(
        query=body.query, results=[MemoryOut.of(item) for item in results], count=len(results)
    )


@router.get(
    "/summary",
    response_model=SummaryResponse,
    summary="Summarize your memories",
    responses=error_responses(401, 503),
)
async def get_summary(user_id: UserId, service: Service) -> SummaryResponse:
    summary = await service.get_user_summary(user_id)
    return SummaryResponse(
        user_id=user_id,
        summary=Summary(
            total_memories=summary.total_memories,
            truncated=summary.truncated,
            preferences=summary.preferences,
            recent_memories=[MemoryOut.of(item) for item in summary.recent_memories],
        ),
    )


@router.post(
    "/preferences",
    status_code=status.HTTP_201_CREATED,
    response_model=MemoryOut,
    summary="Store a preference",
    responses={
        201: {"headers": {"Idempotent-Replayed": REPLAYED_HEADER}},
        **error_responses(401, 409, 413, 422, 503),
    },
)
async def add_preference(
    body: PreferenceRequest,
    user_id: UserId,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> MemoryOut:
    expires_at = body.expires_at.isoformat() if body.expires_at is not None else None
    item, replayed = await service.add_user_preference(
        user_id, body.preference, body.category, idempotency_key, expires_at
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return MemoryOut.of(item)


@router.get(
    "/preferences",
    response_model=PreferenceList,
    summary="List your preferences",
    responses=error_responses(401, 422, 503),
)
async def list_preferences(
    user_id: UserId,
    service: Service,
    category: Annotated[
        str | None,
        Query(pattern=CATEGORY_PATTERN, description="Only this category (any case)."),
    ] = None,
) -> PreferenceList:
    # Categories are stored lowercase, so `Food` finds what `POST` stored as `food`.
    found = await service.list_preferences(user_id, category.lower() if category else None)
    return PreferenceList(
        results=[MemoryOut.of(item) for item in found.items],
        count=len(found.items),
        truncated=found.truncated,
    )


@router.get(
    "/memories",
    response_model=MemoryPage,
    summary="List your memories, newest first",
    responses=error_responses(401, 422, 503),
)
async def list_memories(
    user_id: UserId,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    include_expired: Annotated[
        bool, Query(description="Also the memories whose last day has passed (`expired`).")
    ] = False,
) -> MemoryPage:
    found = await service.list_memories(user_id, include_expired=include_expired)
    page = found.items[offset : offset + limit]
    return MemoryPage(
        results=[MemoryOut.of(item) for item in page],
        count=len(page),
        total=len(found.items),
        truncated=found.truncated,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/memories/{memory_id}",
    response_model=MemoryOut,
    summary="Read one memory",
    responses=error_responses(401, 404, 422, 503),
)
async def get_memory(memory_id: UUID, user_id: UserId, service: Service) -> MemoryOut:
    return MemoryOut.of(await service.get_memory(user_id, str(memory_id)))


@router.put(
    "/memories/{memory_id}",
    response_model=MemoryOut,
    summary="Change one memory",
    responses=error_responses(401, 404, 413, 422, 503),
)
async def update_memory(
    memory_id: UUID, body: MemoryUpdate, user_id: UserId, service: Service
) -> MemoryOut:
    """Change the text, set metadata keys (merged into the memory's own), change the expiry."""
    item = await service.update_memory(
        user_id, str(memory_id), body.memory, body.metadata, body.expiry
    )
    return MemoryOut.of(item)


@router.get(
    "/memories/{memory_id}/history",
    response_model=MemoryHistory,
    summary="How one memory changed",
    responses=error_responses(401, 404, 422, 503),
)
async def get_memory_history(memory_id: UUID, user_id: UserId, service: Service) -> MemoryHistory:
    """Its events, oldest first. Deleting the memory (or forgetting you) deletes its history."""
    events = await service.memory_history(user_id, str(memory_id))
    return MemoryHistory(
        memory_id=str(memory_id), events=[HistoryEntryOut.model_validate(e) for e in events]
    )


@router.delete(
    "/memories/{memory_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,  # no body, so no content type
    summary="Delete one memory",
    responses=error_responses(401, 404, 422, 503),
)
async def delete_memory(memory_id: UUID, user_id: UserId, service: Service) -> None:
    await service.delete_memory(user_id, str(memory_id))


@router.post(
    "/batch/delete",
    response_model=ForgetResponse,
    summary="Delete several memories",
    responses=error_responses(401, 404, 413, 422, 503),
)
async def delete_memories(
    body: MemoryIdsRequest, user_id: UserId, service: Service
) -> ForgetResponse:
    """All of them, or none: when any id is not one of your memories, nothing is deleted and
    the answer is 404."""
    ids = [str(memory_id) for memory_id in body.memory_ids]
    return ForgetResponse(deleted=await service.delete_memories(user_id, ids))


@router.get(
    "/export",
    response_class=NDJSONResponse,
    summary="Export everything stored about you (JSON lines)",
    responses={
        200: {
            "description": "One JSON object per line: first `{kind: export, user_id, "
            "exported_at}`, then one `{kind: memory, id, memory, metadata, created_at, "
            "updated_at, history}` per memory, last `{kind: end, memories, complete}`. A "
            "stream that fails midway ends with `{kind: error, detail}` instead.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **error_responses(401, 503),
    },
)
async def export_memories(user_id: UserId, service: Service) -> NDJSONResponse:
    """Your memories with their metadata and history, streamed as the store is read."""
    return await stream_export(service, user_id)


@router.delete(
    "/memories",
    response_model=ForgetResponse,
    summary="Forget everything stored about you",
    responses=error_responses(401, 503),
)
async def forget_me(user_id: UserId, service: Service) -> ForgetResponse:
    return ForgetResponse(deleted=await service.forget_user(user_id))
