"""Request and response models of POST /api/v1/chat.

The message's size limit comes from settings (MEMORY_MAX_MESSAGE_CHARS) and is checked in
the router, as for conversations; the body carries no user id, which comes from the token.
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..memory.schemas import MemoryOut, SessionId


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, description="What the user says, in their own words.")
    session_id: SessionId | None = Field(
        None,
        description="Continues a chat session; a new session starts when it is omitted.",
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or only whitespace")
        return value


class ChatResponse(BaseModel):
    answer: str
    memories: list[MemoryOut] = Field(
        description="The memories the answer was given as context, best match first."
    )
    session_id: str = Field(description="Send it back with the next message of this chat.")
