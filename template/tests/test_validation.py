"""Bad input gets a clear 4xx and stores nothing."""

from typing import Any

import httpx
import pytest

from tests.helpers import API, all_memories

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]
HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"messages": []}, 422, "at least 1 item"),
        ({}, 422, "Field required"),
        (
            {"messages": [{"role": "robot", "content": "beep"}]},
            422,
            "'user', 'assistant' or 'system'",
        ),
        ({"messages": [{"role": "user", "content": "   "}]}, 422, "must not be empty"),
        ({"messages": [{"role": "user"}]}, 422, "Field required"),
        ({"messages": "hello"}, 422, "valid list"),
        ({"messages": [{"role": "user", "content": "x" * 8001}]}, 413, "limit is 8000"),
        ({"messages": HELLO * 51}, 413, "the limit is 50"),
        ({"messages": HELLO, "metadata": {"run_id": "r1"}}, 422, "access token"),
        ({"messages": HELLO, "metadata": {"type": "preference"}}, 422, "reserved"),
        ({"messages": HELLO, "metadata": {"nested": {"a": 1}}}, 422, "metadata"),
        ({"messages": HELLO, "metadata": {"bad key!": 1}}, 422, "invalid"),
        ({"messages": HELLO, "metadata": {f"k{i}": i for i in range(21)}}, 422, "at most 20 keys"),
        ({"messages": HELLO, "session_id": "has spaces"}, 422, "session_id"),
        ({"messages": HELLO, "surprise": True}, 422, "Extra inputs are not permitted"),
    ],
    ids=[
        "empty-messages",
        "no-messages",
        "unknown-role",
        "blank-content",
        "no-content",
        "messages-not-list",
        "content-too-long",
        "too-many-messages",
        "metadata-identity",
        "metadata-reserved",
        "metadata-nested",
        "metadata-bad-key",
        "metadata-too-many-keys",
        "bad-session-id",
        "unknown-field",
    ],
)
async def test_bad_conversations(
    client: httpx.AsyncClient, user: User, body: dict[str, Any], status: int, says: str
) -> None:
    _, headers = user
    response = await client.post(f"{API}/conversation", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text
    assert await all_memories(client, headers) == []


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"query": ""}, 422, "must not be empty"),
        ({"query": "   "}, 422, "must not be empty"),
        ({}, 422, "Field required"),
        ({"query": "x" * 1001}, 413, "limit is 1000"),
        ({"query": "tea", "limit": 0}, 422, "greater than or equal to 1"),
        ({"query": "tea", "limit": 21}, 422, "between 1 and 20"),
        ({"query": "tea", "limit": "many"}, 422, "valid integer"),
        ({"query": "tea", "filters": {"agent_id": "x"}}, 422, "access token"),
        ({"query": "tea", "filters": {"hash": "x"}}, 422, "reserved"),
        ({"query": "tea", "filters": {"OR": [1]}}, 422, "filters"),
    ],
    ids=[
        "empty-query",
        "blank-query",
        "no-query",
        "query-too-long",
        "limit-zero",
        "limit-too-big",
        "limit-not-int",
        "filter-identity",
        "filter-internal",
        "filter-operator",
    ],
)
async def test_bad_searches(
    client: httpx.AsyncClient, user: User, body: dict[str, Any], status: int, says: str
) -> None:
    _, headers = user
    response = await client.post(f"{API}/search", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"preference": ""}, 422, "must not be empty"),
        ({"preference": "x" * 1001}, 413, "limit is 1000"),
        ({"preference": "tea", "category": "no spaces please"}, 422, "category"),
        ({"preference": "tea", "category": ""}, 422, "category"),
    ],
    ids=["empty", "too-long", "bad-category", "empty-category"],
)
async def test_bad_preferences(
    client: httpx.AsyncClient, user: User, body: dict[str, Any], status: int, says: str
) -> None:
    _, headers = user
    response = await client.post(f"{API}/preferences", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text
    assert await all_memories(client, headers) == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"{API}/memories", {"limit": 0}),
        (f"{API}/memories", {"limit": 101}),
        (f"{API}/memories", {"offset": -1}),
        (f"{API}/preferences", {"category": "Not Valid"}),
    ],
)
async def test_bad_query_parameters(
    client: httpx.AsyncClient, user: User, path: str, params: dict[str, Any]
) -> None:
    _, headers = user
    assert (await client.get(path, params=params, headers=headers)).status_code == 422


async def test_malformed_memory_id_is_a_clear_422(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    response = await client.get(f"{API}/memories/not-a-uuid", headers=headers)
    assert response.status_code == 422
    assert "UUID" in response.text


async def test_invalid_json_is_a_422(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    response = await client.post(
        f"{API}/search",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.text


async def test_oversized_body_is_refused_before_parsing(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    huge = b'{"query": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        f"{API}/search", content=huge, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
