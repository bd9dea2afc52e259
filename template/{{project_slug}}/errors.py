"""Domain errors and the HTTP handlers that turn them into clear JSON answers.

Every error leaves the service as `{"detail": "..."}` with the right status code;
nothing the caller did can produce a 500 with a stack trace.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)


class MemoryNotFoundError(Exception):
    """The memory does not exist, or it belongs to someone else (indistinguishable on purpose)."""


class ProviderUnavailableError(Exception):
    """A remote dependency (model API or vector store) failed or timed out."""

    def __init__(self, component: str, reason: str, retry_after: int = 30) -> None:
        super().__init__(f"{component} unavailable: {reason}")
        self.component = component
        self.reason = reason
        self.retry_after = retry_after


async def _not_found(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": "Memory not found."})


async def _provider_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderUnavailableError)
    logger.warning(
        "provider unavailable: %s (%s) on %s %s",
        exc.component,
        exc.reason,
        request.method,
        request.url.path,
    )
    return JSONResponse(
        status_code=503,
        content={
            "detail": f"The {exc.component} is temporarily unavailable ({exc.reason}). "
            f"Please retry in {exc.retry_after} seconds."
        },
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "Internal server error."})


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MemoryNotFoundError, _not_found)
    app.add_exception_handler(ProviderUnavailableError, _provider_unavailable)
    app.add_exception_handler(Exception, _unexpected)
