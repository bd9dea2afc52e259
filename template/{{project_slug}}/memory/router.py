"""HTTP routes for memories: parse, call the service, shape the answer.

The router never touches mem0; the caller's user id comes only from `UserId` (the token).
Requests are validated by their schemas (`schemas.py`), limits from settings included; each
route documents the errors it can answer with (`error_responses`).
"""

import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status

from ..auth import UserId
from ..errors import ProviderUnavailableError, error_responses
from ..observability import operations
from ..settings import Settings, get_settings
from .domain import Message, MetadataValue
from .schemas import (
    CATEGORY_PATTERN,
    ConversationAccepted,
    ConversationRequest,
    ForgetResponse,
    MemoryOut,
    MemoryPage,
    PreferenceList,
    PreferenceRequest,
    SearchRequest,
    SearchResponse,
    Summary,
    SummaryResponse,
    set_limits,
)
from .service import MemoryService


def get_memory_service(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.memory_service
    return service


Service = Annotated[MemoryService, Depends(get_memory_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def request_limits(settings: AppSettings) -> None:
    """Router dependency: validate this request's body against this app's limits.

    FastAPI solves a route's dependencies before it validates the body, in the same context.
    """
    set_limits(settings)


router = APIRouter(prefix="/api/v1/memory", tags=["memory"], dependencies=[Depends(request_limits)])


async def store_conversation(
    service: MemoryService,
    user_id: str,
    messages: list[Message],
    metadata: dict[str, MetadataValue],
) -> None:
    """Store a conversation as a background task, logging the outcome: nobody awaits it."""
    log = operations.bind(operation="store_conversation", user_id=user_id)
    started = time.perf_counter()
    try:
        stored = await service.add_conversation(user_id, messages, metadata)
    except ProviderUnavailableError as exc:
        log.error(
            "conversation not stored",
            outcome="unavailable",
            reason=str(exc),
            latency_ms=_ms(started),
        )
    except Exception:
        log.exception("conversation not stored", outcome="error", latency_ms=_ms(started))
    else:
        log.info("conversation stored", outcome="ok", memories=len(stored), latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@router.post(
    "/conversation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ConversationAccepted,
    summary="Store a conversation as memories (in the background)",
    responses=error_responses(401, 413, 422),
)
async def add_conversation(
    body: ConversationRequest,
    background: BackgroundTasks,
    user_id: UserId,
    service: Service,
) -> ConversationAccepted:
    messages: list[Message] = [{"role": m.role, "content": m.content} for m in body.messages]
    metadata = dict(body.metadata or {})
    if body.session_id is not None:
        metadata["session_id"] = body.session_id
    background.add_task(store_conversation, service, user_id, messages, metadata)
    return ConversationAccepted(messages=len(messages))


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
    results = await service.search_memories(body.query, user_id, limit, body.filters)
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
            total_memories=summary["total_memories"],
            preferences=summary["preferences"],
            recent_memories=[MemoryOut.of(item) for item in summary["recent_memories"]],
        ),
    )


@router.post(
    "/preferences",
    status_code=status.HTTP_201_CREATED,
    response_model=MemoryOut,
    summary="Store a preference",
    responses=error_responses(401, 413, 422, 503),
)
async def add_preference(body: PreferenceRequest, user_id: UserId, service: Service) -> MemoryOut:
    return MemoryOut.of(await service.add_user_preference(user_id, body.preference, body.category))


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
    items = await service.list_preferences(user_id, category.lower() if category else None)
    return PreferenceList(results=[MemoryOut.of(item) for item in items], count=len(items))


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
) -> MemoryPage:
    items = await service.list_memories(user_id)
    page = items[offset : offset + limit]
    return MemoryPage(
        results=[MemoryOut.of(item) for item in page],
        count=len(page),
        total=len(items),
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


@router.delete(
    "/memories/{memory_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one memory",
    responses=error_responses(401, 404, 422, 503),
)
async def delete_memory(memory_id: UUID, user_id: UserId, service: Service) -> None:
    await service.delete_memory(user_id, str(memory_id))


@router.delete(
    "/memories",
    response_model=ForgetResponse,
    summary="Forget everything stored about you",
    responses=error_responses(401, 503),
)
async def forget_me(user_id: UserId, service: Service) -> ForgetResponse:
    return ForgetResponse(deleted=await service.forget_user(user_id))
