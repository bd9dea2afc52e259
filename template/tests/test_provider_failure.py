"""When the model provider fails or times out: 503 with Retry-After and a clear message."""

import logging

import httpx
import pytest

from tests.fakes.model_server import FakeModelServer
from tests.helpers import API, all_memories, remember, search

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


def _assert_503(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    detail = response.json()["detail"]
    assert "model provider is temporarily unavailable" in detail
    assert reason in detail
    assert "Traceback" not in response.text


@pytest.mark.parametrize("status", [500, 503, 429, 401])
async def test_search_when_embeddings_fail(
    client: httpx.AsyncClient, user: User, faults: FakeModelServer, status: int
) -> None:
    _, headers = user
    faults.set_faults(["embeddings"], status=status)
    response = await client.post(f"{API}/search", json={"query": "anything"}, headers=headers)
    _assert_503(response, f"HTTP {status}")


async def test_search_when_the_provider_times_out(
    client: httpx.AsyncClient, user: User, faults: FakeModelServer
) -> None:
    _, headers = user
    faults.set_faults(latency=3.0)  # the test settings time out after 2 seconds
    response = await client.post(f"{API}/search", json={"query": "anything"}, headers=headers)
    _assert_503(response, "timed out")


async def test_preference_when_embeddings_fail(
    client: httpx.AsyncClient, user: User, faults: FakeModelServer
) -> None:
    _, headers = user
    faults.set_faults(["embeddings"])
    response = await client.post(f"{API}/preferences", json={"preference": "Tea"}, headers=headers)
    _assert_503(response, "HTTP 503")
    faults.set_faults()
    assert await all_memories(client, headers) == []


async def test_conversation_when_extraction_fails_is_logged_not_stored(
    client: httpx.AsyncClient, user: User, faults: FakeModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    user_id, headers = user
    faults.set_faults(["chat"])
    with caplog.at_level(logging.ERROR):
        await remember(client, headers, "I collect vintage cameras")
    faults.set_faults()
    assert await all_memories(client, headers) == []
    assert any(
        user_id in record.getMessage() and "not stored" in record.getMessage()
        for record in caplog.records
    )


async def test_service_recovers_when_the_provider_comes_back(
    client: httpx.AsyncClient, user: User, faults: FakeModelServer
) -> None:
    _, headers = user
    faults.set_faults(["embeddings", "chat"])
    assert (
        await client.post(f"{API}/search", json={"query": "x"}, headers=headers)
    ).status_code == 503
    faults.set_faults()
    await remember(client, headers, "I collect vintage cameras")
    assert len(await search(client, headers, "vintage cameras")) == 1


async def test_readiness_does_not_depend_on_the_model_provider(
    client: httpx.AsyncClient, faults: FakeModelServer
) -> None:
    faults.set_faults(["embeddings", "chat"])
    assert (await client.get("/readyz")).status_code == 200
