"""Small helpers shared by the API tests."""

import asyncio
import time
from typing import Any

import httpx

API = "/api/v1/memory"


FINISHED = frozenset({"done", "failed", "cancelled"})


async def wait_for_job(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    job_id: str,
    *,
    until: frozenset[str] = FINISHED,
    within: float = 30,
) -> dict[str, Any]:
    """Poll the job until its status is in `until`; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get(f"{API}/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {within}s: {job}"
        await asyncio.sleep(0.05)


async def remember(
    client: httpx.AsyncClient, headers: dict[str, str], *texts: str, **body: Any
) -> dict[str, Any]:
    """Store user messages as a conversation and wait until its job is done."""
    messages = [{"role": "user", "content": text} for text in texts]
    response = await client.post(
        f"{API}/conversation", json={"messages": messages, **body}, headers=headers
    )
    assert response.status_code == 202, response.text
    job = await wait_for_job(client, headers, response.json()["job_id"])
    assert job["status"] == "done", job
    return job


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
