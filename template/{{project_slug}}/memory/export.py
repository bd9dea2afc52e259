"""`GET /export`: everything stored about the caller, streamed as JSON lines.

The lines are written as the store is read, a page at a time, so an export of any size holds
one page in memory. The first line (`kind: export`) is sent only once the first page is read:
a store that is down answers 503 like any route. A failure later cannot change the status
already sent, so the stream then ends with a `kind: error` line instead of the `kind: end`
line; a client that did not get the `end` line does not have everything.
"""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..errors import ProviderUnavailableError, refusal_detail
from .schemas import HistoryEntryOut, MemoryOut
from .service import MemoryService

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/x-ndjson"


class ExportStart(BaseModel):
    kind: Literal["export"] = "export"
    user_id: str
    exported_at: datetime


class ExportedMemory(MemoryOut):
    kind: Literal["memory"] = "memory"
    history: list[HistoryEntryOut] = Field(description="The memory's changes, oldest first.")


class ExportEnd(BaseModel):
    kind: Literal["end"] = "end"
    memories: int
    complete: bool = Field(
        description="False when the store can page through no more than `memories` of one "
        "user's memories (see the README): there may be more."
    )


class ExportError(BaseModel):
    kind: Literal["error"] = "error"
    detail: str


class NDJSONResponse(StreamingResponse):
    media_type = MEDIA_TYPE


def _line(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=True).encode() + b"\n"


async def export_lines(service: MemoryService, user_id: str) -> AsyncIterator[bytes]:
    """The export's lines; the first is produced once the store's first page is read."""
    entries = service.export(user_id)
    entry = await anext(entries, None)
    yield _line(ExportStart(user_id=user_id, exported_at=datetime.now(UTC)))
    count = 0
    try:
        while entry is not None:
            item, history = entry
            memory = MemoryOut.of(item).model_dump(exclude={"score"})
            events = [HistoryEntryOut.model_validate(event) for event in history]
            yield _line(ExportedMemory(**memory, history=events))
            count += 1
            entry = await anext(entries, None)
    except ProviderUnavailableError as exc:
        logger.warning("an export stopped after %d memories: %s", count, exc.reason)
        yield _line(ExportError(detail=refusal_detail(exc)))
        return
    ceiling = service.export_ceiling
    yield _line(ExportEnd(memories=count, complete=ceiling is None or count < ceiling))


async def stream_export(service: MemoryService, user_id: str) -> NDJSONResponse:
    lines = export_lines(service, user_id)
    first = await anext(lines)  # reads the first page: a store that is down raises here

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for line in lines:
            yield line

    filename = 'attachment; filename="memories.jsonl"'
    return NDJSONResponse(body(), headers={"Content-Disposition": filename})
