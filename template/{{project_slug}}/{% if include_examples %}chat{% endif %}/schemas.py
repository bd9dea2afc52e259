"""Request and response models of POST /api/v1/chat.

The message's size limit comes from settings (MEMORY_MAX_MESSAGE_CHARS), as for the messages
of a conversation; the body carries no user id, which comes from the token.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..memory.schemas import (
    NOT_BLANK_SCHEMA,
    MemoryOut,
    NotBlank,
    SessionId,
    SettingLimit,
    Utf8,
)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    message: Annotated[
        str, SettingLimit("memory_max_message_chars"), NotBlank, NOT_BLANK_SCHEMA, Utf8
    ] = Field(description="What the user says, in their own words.")
    session_id: SessionId | None = Field(
        None,
        description="Continues a chat session; a new session starts when it is omitted.",
    )


class ChatResponse(BaseModel):
    answer: str
    memories: list[MemoryOut] = Field(
        description="The memories the answer was given as context, best match first."
    )
    session_id: str = Field(description="Send it back with the next message of this chat.")
    job_id: str = Field(
        description="The job storing this turn as memories: GET /api/v1/memory/jobs/{job_id}."
    )
