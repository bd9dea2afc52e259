"""Liveness and readiness probes, at the root of the service."""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .errors import RETRY_AFTER_HEADER, ProviderUnavailableError

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the service can serve memories; `detail` says why not, or what to watch."""

    status: Literal["ready", "unavailable"]
    detail: str | None = Field(
        None,
        description="Why the service is unavailable (503), or a warning while it still serves "
        "(200), such as an embedded store grown past the size where it serves well.",
    )


@router.get(
    "/healthz",
    response_model=Liveness,
    summary="Liveness: the process is up",
)
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    summary="Readiness: the memory store answers",
    responses={
        503: {
            "model": Readiness,
            "description": "The memory store (or a provider) cannot serve now.",
            "headers": {"Retry-After": RETRY_AFTER_HEADER},
        }
    },
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    try:
        warning = await request.app.state.memory_service.ready()
    except ProviderUnavailableError as exc:
        unavailable = Readiness(
            status="unavailable", detail=f"The {exc.component} is unavailable ({exc.reason})."
        )
        return JSONResponse(
            status_code=503,
            content=unavailable.model_dump(),
            headers={"Retry-After": str(exc.retry_after)},
        )
    return Readiness(status="ready", detail=warning)
