"""What operators call, at the root of the service: liveness and readiness probes, and the
Prometheus metrics (what they count: metrics.py)."""

import hmac
import logging
import math
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, Field, SecretStr

from . import metrics
from .errors import RETRY_AFTER_HEADER, ProviderUnavailableError, error_responses

logger = logging.getLogger(__name__)

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


async def require_metrics_token(request: Request) -> None:
    """Dependency: with METRICS_TOKEN set, a scrape must bring it as a Bearer token."""
    expected: SecretStr | None = request.app.state.settings.metrics_token
    if expected is None:
        return
    # Parsed as HTTPBearer parses it, without declaring a security scheme in the OpenAPI
    # document: while METRICS_TOKEN is unset, /metrics needs none.
    scheme, given = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="The metrics need the METRICS_TOKEN as a Bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Counters, gauges and histograms in Prometheus' text format. Open unless the "
    "service sets METRICS_TOKEN; then a scrape needs that token as a Bearer token.",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401),
    },
    dependencies=[Depends(require_metrics_token)],
)
async def prometheus_metrics(request: Request) -> Response:
    try:
        depth = await request.app.state.memory_service.queue.depth()
        metrics.set_queue_depth(depth.pending, depth.failed)
    except ProviderUnavailableError as exc:  # the other metrics still tell what happened
        logger.warning("metrics: the job queue could not be read (%s)", exc.reason)
        metrics.set_queue_depth(math.nan, math.nan)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
