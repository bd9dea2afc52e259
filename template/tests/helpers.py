"""Small helpers shared by the API tests."""

from typing import Any

import httpx

API = "/api/v1/memory"


async def remember(
    client: httpx.AsyncClient, headers: dict[str, str], *texts: str, **body: Any
) -> None:
    """Store user messages as a conversation; over ASGI the background task finishes first."""
    messages = [{"role": "user", "content": text} for text in texts]
    response = await client.post(
        f"{API}/conversation", json={"messages": messages, **body}, headers=headers
    )
    assert response.status_code == 202, response.text


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"{API}/search", json={"query": query, **body}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def all_memories(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/memories", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results
