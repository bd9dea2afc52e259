"""Structured logs and request ids.

Every request gets an id: the caller's `X-Request-ID` when it is sane, else a new one. It is
sent back in the same header and bound to every log line written while the request runs, the
background work it starts included. Each memory operation is logged once, when it ends, with
the user, the operation, the latency and the outcome; any other request is logged once too
(method, path without query, status; health probes only when they fail), in place of
uvicorn's access log; the same measures feed the Prometheus metrics (metrics.py).
`LOG_FORMAT=json` writes one JSON object
per line (for log shippers); `console` writes readable key=value lines.
"""

import logging
import re
import sys
import time
import uuid
from urllib.parse import quote

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
# Orchestrators call these every few seconds: logged only when they fail.
_PROBES = frozenset({"/healthz", "/readyz"})
_MAX_LOGGED_PATH = 200
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
# structlog hands its events to stdlib logging, so one handler (and pytest's caplog) sees all.
# filter_by_level first: a disabled level costs one check, not the whole processor chain.
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *_SHARED,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
operations = structlog.get_logger("memory.operations")
_requests = structlog.get_logger("memory.requests")


# Loggers that log at LOG_LEVEL: ours (`__main__` is ours too: `python -m <package>.worker`),
# the server's and the job queue's (SAQ: a job's lifecycle, by id). Other libraries log from
# WARNING only: at INFO httpx logs every provider call and mem0 every insert; at DEBUG they log
# whole payloads (memory text) and headers.
_OWN_LOGGERS = frozenset({__name__.split(".")[0], "__main__", "memory", "uvicorn", "saq"})


def _own_or_warning(record: logging.LogRecord) -> bool:
    """Handler filter, for libraries that set their loggers' levels themselves."""
    return record.levelno >= logging.WARNING or record.name.split(".")[0] in _OWN_LOGGERS


def configure_logging(level: str, log_format: str) -> None:
    """Render every record (stdlib's and structlog's) as JSON or as text, to stdout."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_own_or_warning)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The root's level is what libraries' loggers inherit: below it a call costs one check.
    root.setLevel(max(logging.WARNING, logging.getLevelNamesMapping()[level]))
    for name in _OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # RequestContextMiddleware logs every request once (without its query): no access log.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


def _loggable_path(scope: Scope) -> str:
    """The path percent-encoded, as it came over the wire: no newline can forge a log line."""
    raw = scope.get("raw_path")
    path = bytes(raw).decode("ascii", "backslashreplace") if raw else quote(scope["path"])
    return path[:_MAX_LOGGED_PATH]


def current_request_id() -> str | None:
    """The id of the request being served, if any (work it queues logs under the same id)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return str(request_id) if request_id is not None else None


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 503:
        return "unavailable"
    return "rejected" if status < 500 else "error"


class RequestContextMiddleware:
    """Binds the request id, echoes it, and logs each memory API call when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode()
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            # The path only: query strings and bodies may hold memory text.
            _requests.debug("request started", method=scope["method"], path=scope["path"])
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                latency_ms = round(seconds * 1000, 1)
                route = scope.get("route")
                template: str | None = getattr(route, "path", None)
                metrics.observe_request(scope["method"], template, status, seconds)
                if scope["path"].startswith("/api/") and route is not None:
                    operation = str(getattr(route, "name", scope["path"]))
                    metrics.observe_operation(operation, outcome_of(status), seconds)
                    operations.info(
                        "memory operation",
                        operation=operation,
                        user_id=scope.get("state", {}).get("user_id"),
                        status=status,
                        outcome=outcome_of(status),
                        latency_ms=latency_ms,
                    )
                elif status >= 400 or scope["path"] not in _PROBES:
                    _requests.info(
                        "request",
                        method=scope["method"],
                        path=_loggable_path(scope),
                        status=status,
                        latency_ms=latency_ms,
                    )
