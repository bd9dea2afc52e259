"""Rate limits as the app takes them in: a limiter for the app's lifetime, and a dependency
that spends the caller's budget before every API route."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from prometheus_client import Counter

from ..auth import UserId
from ..feature import Feature
from .limiter import RATE_LIMITED_RESPONSES, RateLimiter, build_rate_limiter, route_group
from .settings import RateLimitSettings

logger = logging.getLogger(__name__)

REJECTED = Counter(  # served at /metrics
    "memory_rate_limited_total", "Requests refused by a rate limit, by group.", ["group"]
)


async def rate_limit(request: Request, response: Response, user_id: UserId) -> None:
    """Dependency: spend the authenticated user's budget (a 401 spends nothing)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    route = request.scope.get("route")
    group = route_group(request.method, getattr(route, "path", request.url.path))
    decision = await limiter.check(group, f"user:{user_id}")
    if decision is None:
        return
    headers = decision.headers()
    if not decision.allowed:
        REJECTED.labels(group).inc()
        retry_after = decision.retry_after()
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=(
                f"Rate limit exceeded for {group}: {decision.limit}. "
                f"Retry in {retry_after} seconds."
            ),
            headers={**headers, "Retry-After": str(retry_after)},
        )
    response.headers.update(headers)


@asynccontextmanager
async def open_limiter(app: FastAPI, settings: RateLimitSettings) -> AsyncIterator[None]:
    app.state.rate_limiter = build_rate_limiter(settings)
    logger.info("rate limits: %s", app.state.rate_limiter.describe())
    try:
        yield
    finally:
        await app.state.rate_limiter.close()


FEATURE = Feature(
    dependencies=[Depends(rate_limit)],  # health probes stay unlimited
    responses=RATE_LIMITED_RESPONSES,
    resources=open_limiter,
)
