"""HTTP routes for memories: parse, check limits, call the service, shape the answer.

The router never touches mem0; the caller's user id comes only from `UserId` (the token).
"""

import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, status

from ..auth import UserId
from ..errors import ProviderUnavailableError
from ..observability import operations
from ..settings import Settings, get_settings
from .domain import Message, MetadataValue
from .schemas import (
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
)
from .service import MemoryService

router = APIRouter(prefix="/api/v1/memory", tags=["memory"])


def get_memory_service(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.memory_service
    return service


Service = Annotated[MemoryService, Depends(get_memory_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _too_large(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_413_CONTENT_TOO_LARGE, detail=detail)


def check_text_length(text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise _too_large(f"{what} is {len(text)} characters long; the limit is {limit}.")


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
)
async def add_conversation(
    body: ConversationRequest,
    background: BackgroundTasks,
    user_id: UserId,
    service: Service,
    settings: AppSettings,
) -> ConversationAccepted:
    if len(body.messages) > settings.memory_max_messages:
        raise _too_large(
            f"The conversation has {len(body.messages)} messages; the limit is "
            f"{settings.memory_max_messages}."
        )
    for index, message in enumerate(body.messages):
        check_text_length(message.content, settings.memory_max_message_chars, f"Message {index}")
    messages: list[Message] = [{"role": m.role, "content": m.content} for m in body.messages]
    metadata = dict(body.metadata or {})
    if body.session_id is not None:
        metadata["session_id"] = body.session_id
    background.add_task(store_conversation, service, user_id, messages, metadata)
    return ConversationAccepted(messages=len(messages))


@router.post("/search", response_model=SearchResponse, summary="Search your memories")
async def search_memories(
    body: SearchRequest, user_id: UserId, service: Service, settings: AppSettings
) -> SearchResponse:
    check_text_length(body.query, settings.memory_max_query_chars, "The query")
    limit = body.limit or settings.memory_search_limit_default
    if limit > settings.memory_search_limit_max:
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"limit must be between 1 and {settings.memory_search_limit_max}.",
        )
    results = await service.search_memories(body.query, user_id, limit, body.filters)
    return SearchResponse(
        query=body.query, results=[MemoryOut.of(item) for item in results], count=len(results)
    )


@router.get("/summary", response_model=SummaryResponse, summary="Summarize your memories")
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
)
async def add_preference(
    body: PreferenceRequest, user_id: UserId, service: Service, settings: AppSettings
) -> MemoryOut:
    check_text_length(body.preference, settings.memory_max_preference_chars, "The preference")
    return MemoryOut.of(await service.add_user_preference(user_id, body.preference, body.category))


@router.get("/preferences", response_model=PreferenceList, summary="List your preferences")
async def list_preferences(
    user_id: UserId,
    service: Service,
    category: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_-]{1,50}$", description="Only this category.")
    ] = None,
) -> PreferenceList:
    items = await service.list_preferences(user_id, category)
    return PreferenceList(results=[MemoryOut.of(item) for item in items], count=len(items))


@router.get("/memories", response_model=MemoryPage, summary="List your memories, newest first")
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


@router.get("/memories/{memory_id}", response_model=MemoryOut, summary="Read one memory")
async def get_memory(memory_id: UUID, user_id: UserId, service: Service) -> MemoryOut:
    return MemoryOut.of(await service.get_memory(user_id, str(memory_id)))


@router.delete(
    "/memories/{memory_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one memory"
)
async def delete_memory(memory_id: UUID, user_id: UserId, service: Service) -> None:
    await service.delete_memory(user_id, str(memory_id))


@router.delete(
    "/memories", response_model=ForgetResponse, summary="Forget everything stored about you"
)
async def forget_me(user_id: UserId, service: Service) -> ForgetResponse:
    return ForgetResponse(deleted=await service.forget_user(user_id))
