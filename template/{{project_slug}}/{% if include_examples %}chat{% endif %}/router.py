"""POST /api/v1/chat: recall, answer, remember.

Each turn searches the caller's memories for the message, asks the language model with the
best matches as context, and queues the turn (message and answer) in the durable job queue
exactly as POST /api/v1/memory/conversation does, so a later chat can recall what was said;
`job_id` in the answer follows it (GET /api/v1/memory/jobs/{job_id}).
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ..auth import UserId
from ..deps import AppSettings, Service, request_limits
from ..errors import error_responses
from ..memory.domain import Message
from ..memory.schemas import MemoryOut
from .model import ChatModel
from .schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/api/v1", tags=["chat"], dependencies=[Depends(request_limits)])


async def get_chat_model(request: Request) -> ChatModel:
    model: ChatModel = request.app.state.chat_model
    return model


Model = Annotated[ChatModel, Depends(get_chat_model)]


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Chat with an assistant that remembers you",
    responses=error_responses(401, 413, 422, 429, 503),
)
async def chat(
    body: ChatRequest,
    user_id: UserId,
    service: Service,
    model: Model,
    settings: AppSettings,
) -> ChatResponse:
    memories = await service.search_memories(
        user_id, body.message, settings.memory_search_limit_default
    )
    # A failing model raises ProviderUnavailableError (503) before anything is stored.
    answer = await model.answer(body.message, [item.memory for item in memories])
    session_id = body.session_id or uuid.uuid4().hex
    turn: list[Message] = [
        {"role": "user", "content": body.message},
        {"role": "assistant", "content": answer},
    ]
    accepted = await service.accept_conversation(user_id, turn, {"session_id": session_id})
    return ChatResponse(
        answer=answer,
        memories=[MemoryOut.of(item) for item in memories],
        session_id=session_id,
        job_id=accepted.job.id,
    )
