"""Refuse request bodies over MAX_REQUEST_BYTES (413) before they are read into memory.

The limit applies where a route reads its body: a declared `Content-Length` over the limit
is refused before a byte is read, and a chunked body (no `Content-Length`) as soon as what
arrived passes the limit. The 413 is an `HTTPException`, so FastAPI re-raises it while it
reads the body and the error handlers answer it in the one error shape.
"""

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body


class BodyTooLargeError(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"The request body is larger than the limit of {max_bytes} bytes.",
        )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise BodyTooLargeError(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError as exc:
            # Read outside a route (the handlers answer it inside one): answer it here.
            if response_started:
                raise
            response = JSONResponse(status_code=exc.status_code, content=error_body(exc.detail))
            await response(scope, receive, send)
