"""Liveness and readiness probes, at the root of the service."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import ProviderUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the memory store answers", response_model=None)
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    try:
        await request.app.state.memory_service.ready()
    except ProviderUnavailableError as exc:
        return JSONResponse(
            status_code=503,
            content={
                "status": "unavailable",
                "detail": f"The {exc.component} is unavailable ({exc.reason}).",
            },
            headers={"Retry-After": str(exc.retry_after)},
        )
    return {"status": "ready"}
