"""Request ids and structured operation logs."""

import logging
from typing import Any

import httpx
import pytest

from tests.helpers import API, remember

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


def _operation_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """structlog puts the event dict in the stdlib record's msg."""
    return [
        record.msg
        for record in caplog.records
        if record.name == "memory.operations" and isinstance(record.msg, dict)
    ]


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-123.abc"})
    assert given.headers["x-request-id"] == "trace-123.abc"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    insane = await client.get("/healthz", headers={"X-Request-ID": "no spaces <script>"})
    assert insane.headers["x-request-id"] != "no spaces <script>"


async def test_errors_carry_the_request_id_too(client: httpx.AsyncClient) -> None:
    unauthorized = await client.get(f"{API}/memories", headers={"X-Request-ID": "r-401"})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["x-request-id"] == "r-401"


async def test_each_operation_is_logged_with_user_latency_and_outcome(
    client: httpx.AsyncClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    user_id, headers = user
    with caplog.at_level(logging.INFO, logger="memory.operations"):
        await client.post(
            f"{API}/search", json={"query": "kites"}, headers={**headers, "X-Request-ID": "op-1"}
        )
        await client.post(f"{API}/search", json={"query": ""}, headers=headers)
    events = _operation_events(caplog)
    ok = next(e for e in events if e.get("request_id") == "op-1")
    assert ok["operation"] == "search_memories"
    assert ok["user_id"] == user_id
    assert ok["outcome"] == "ok"
    assert ok["status"] == 200
    assert ok["latency_ms"] >= 0
    rejected = events[-1]
    assert (rejected["outcome"], rejected["status"]) == ("rejected", 422)


async def test_background_storage_logs_its_outcome_under_the_request_id(
    client: httpx.AsyncClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    user_id, headers = user
    with caplog.at_level(logging.INFO, logger="memory.operations"):
        await remember(client, {**headers, "X-Request-ID": "bg-1"}, "I fly kites on Sundays")
    stored = next(e for e in _operation_events(caplog) if e["event"] == "conversation stored")
    assert stored["operation"] == "store_conversation"
    assert stored["user_id"] == user_id
    assert stored["request_id"] == "bg-1"
    assert stored["outcome"] == "ok"
