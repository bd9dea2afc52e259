"""The one error schema, the handlers that answer with it, and the domain errors.

Every error leaves the service as JSON in one shape, `Error`: `{"detail": "<what went wrong>"}`,
and a 422 adds `errors`, one entry per problem with the input (`loc`, `msg`, `type`). Routes
document the errors they can give with `error_responses(...)`, so the OpenAPI document lists
every answer a caller can get. Nothing the caller sends produces a 500 with a stack trace.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from . import metrics
from .ingest.model import IdempotencyKeyBusyError, IdempotencyKeyReusedError, QueueFullError

logger = logging.getLogger(__name__)

MAX_SUMMARIZED_ERRORS = 3


class MemoryNotFoundError(Exception):
    """The memory does not exist, or it belongs to someone else (indistinguishable on purpose)."""


class ProviderUnavailableError(Exception):
    """A remote dependency (model API or vector store) failed or timed out."""

    def __init__(self, component: str, reason: str, retry_after: int = 30) -> None:
        super().__init__(f"{component} unavailable: {reason}")
        self.component = component
        self.reason = reason
        self.retry_after = retry_after


class ProviderRejectedError(Exception):
    """A remote dependency refused the request as invalid: retrying it would not help."""

    def __init__(self, component: str, reason: str) -> None:
        super().__init__(f"{component} refused the request: {reason}")
        self.component = component
        self.reason = reason


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "query"].')
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="A stable error code, e.g. `string_too_long`.")


class Error(BaseModel):
    """Every error answer of the service."""

    detail: str = Field(description="What went wrong, in words a person can act on.")
    errors: list[FieldError] = Field(
        default_factory=list, description="422 only: each problem with the input."
    )


def header(description: str, *, required: bool = True) -> dict[str, Any]:
    """An OpenAPI response header (a string)."""
    return {"description": description, "required": required, "schema": {"type": "string"}}


RETRY_AFTER_HEADER = header("Seconds to wait before retrying.")
PARTIAL_RETRY_AFTER_HEADER = header(
    "Only when part of the work was refused: seconds to wait before sending it again.",
    required=False,
)
LOCATION_HEADER = header("Where to follow the job: `GET` it for its status.")
REPLAYED_HEADER = header(
    "`true` when this is the stored answer to an earlier request with the same "
    "Idempotency-Key (nothing was stored again).",
    required=False,
)
_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    401: (
        "Missing, invalid or expired access token.",
        {"WWW-Authenticate": header("`Bearer`, with the realm.")},
    ),
    404: ("No such memory (or job) among yours.", {}),
    409: (
        "The Idempotency-Key was used before with another body, or its first request is "
        "still being processed (retry later).",
        {},
    ),
    413: ("The request body is larger than MAX_REQUEST_BYTES.", {}),
    422: ("The input is invalid: `errors` says where and why.", {}),
    429: (
        "Too many of the caller's conversations are waiting to be stored.",
        {"Retry-After": RETRY_AFTER_HEADER},
    ),
    503: (
        "A provider the service depends on (or its job queue) is down, timing out or full.",
        {"Retry-After": RETRY_AFTER_HEADER},
    ),
}


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all JSON with the `Error` schema.

    Spelled out rather than given as a `model`: FastAPI would document a model in the route's
    own media type, and errors are JSON also where a route streams something else. The
    schema itself is added to the document by `add_error_schemas`.
    """
    return {status: error_response(*_ERRORS[status]) for status in statuses}


def error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One error answer for OpenAPI `responses`: JSON with the `Error` schema."""
    answer: dict[str, Any] = {"description": description, "content": _ERROR_CONTENT}
    if headers:
        answer["headers"] = headers
    return answer


def add_responses(
    document: dict[str, Any], prefix: str, *extra: Mapping[int | str, dict[str, Any]]
) -> None:
    """Document `extra` answers on every operation under `prefix` in an OpenAPI document.
    Where an operation documents the same status, both descriptions and all the headers are
    kept (FastAPI's own `responses=` merging would keep only the route's)."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, answer in (item for layer in extra for item in layer.items()):
                known = responses.get(str(status))
                if known is None:
                    responses[str(status)] = dict(answer)
                    continue
                known["description"] = f"{known['description']} Or: {answer['description']}"
                known["headers"] = {**known.get("headers", {}), **answer.get("headers", {})}


def add_error_schemas(document: dict[str, Any]) -> None:
    """Put the `Error` schema (and the schemas it refers to) in an OpenAPI document."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in error.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas.setdefault("Error", error)


def _printable(text: str) -> str:
    """Text that can be encoded as UTF-8: lone surrogates a caller sent become escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(detail: str, errors: Sequence[FieldError] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": _printable(detail)}
    if errors:
        body["errors"] = [error.model_dump() for error in errors]
    return body


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    """Pydantic's errors without their `input` (it may be huge, secret or not encodable)."""
    return [
        FieldError(
            loc=[part if isinstance(part, int) else _printable(str(part)) for part in error["loc"]],
            msg=_printable(str(error["msg"])),
            type=str(error["type"]),
        )
        for error in exc.errors()
    ]


def _summary(errors: Sequence[FieldError]) -> str:
    parts = [
        f"{'.'.join(str(part) for part in error.loc)}: {error.msg}"
        for error in errors[:MAX_SUMMARIZED_ERRORS]
    ]
    more = len(errors) - MAX_SUMMARIZED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "Invalid request: " + "; ".join(parts) + "."


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    return JSONResponse(status_code=422, content=error_body(_summary(errors), errors))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method the requested path answers (Starlette's 405 names one route's only)."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(sorted(allowed))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # FastAPI could not read the body (e.g. bytes that are not UTF-8): invalid JSON, 422.
        error = FieldError(loc=["body"], msg="The body is not valid JSON text", type="json_invalid")
        return JSONResponse(status_code=422, content=error_body(_summary([error]), [error]))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    detail = exc.detail if isinstance(exc.detail, str) else str(jsonable_encoder(exc.detail))
    return JSONResponse(status_code=exc.status_code, content=error_body(detail), headers=headers)


async def _not_found(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content=error_body("Memory not found."))


def refusal_detail(exc: ProviderUnavailableError | QueueFullError) -> str:
    """Why work was not taken: a provider is down, or too much work is pending."""
    if isinstance(exc, QueueFullError):
        return str(exc)
    return (
        f"The {exc.component} is temporarily unavailable ({exc.reason}). "
        f"Please retry in {exc.retry_after} seconds."
    )


async def _provider_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderUnavailableError)
    metrics.provider_failed(exc.component)
    logger.warning(
        "provider unavailable: %s (%s) on %s %s",
        exc.component,
        exc.reason,
        request.method,
        request.url.path,
    )
    return JSONResponse(
        status_code=503,
        content=error_body(refusal_detail(exc)),
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _provider_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderRejectedError)
    logger.warning("provider refused %s %s: %s", request.method, request.url.path, exc.reason)
    detail = f"The {exc.component} refused this request as invalid: {exc.reason}"
    return JSONResponse(status_code=422, content=error_body(detail))


async def _queue_full(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueFullError)
    status = 429 if exc.scope == "user" else 503
    return JSONResponse(
        status_code=status,
        content=error_body(str(exc)),
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _key_reused(_request: Request, exc: Exception) -> JSONResponse:
    detail = (
        "This Idempotency-Key was already used for a request with a different body; "
        "use a new key for a new request."
    )
    # 409, not the 422 the IETF idempotency-key draft suggests: here 422 always means "this
    # input is invalid", and this body is valid; it conflicts with what the key recorded.
    return JSONResponse(status_code=409, content=error_body(detail))


async def _key_busy(_request: Request, exc: Exception) -> JSONResponse:
    detail = (
        "The first request with this Idempotency-Key is still being processed; "
        "retry in a few seconds to get its answer."
    )
    return JSONResponse(status_code=409, content=error_body(detail), headers={"Retry-After": "2"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content=error_body("Internal server error."))


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(MemoryNotFoundError, _not_found)
    app.add_exception_handler(ProviderUnavailableError, _provider_unavailable)
    app.add_exception_handler(ProviderRejectedError, _provider_rejected)
    app.add_exception_handler(QueueFullError, _queue_full)
    app.add_exception_handler(IdempotencyKeyReusedError, _key_reused)
    app.add_exception_handler(IdempotencyKeyBusyError, _key_busy)
    app.add_exception_handler(Exception, _unexpected)
