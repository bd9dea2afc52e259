"""Expiry: a memory whose last day has passed leaves searches and lists, stays stored (by id,
in exports, with `include_expired`) and is deleted like any other."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import API, all_memories, remember, search

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


def _day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def _listed(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/memories", params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def test_an_expired_memory_is_hidden_but_kept(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    gone_body = {"preference": "Wants the spring sale catalogue", "expires_at": _day(-1)}
    gone = await client.post(f"{API}/preferences", json=gone_body, headers=headers)
    assert gone.status_code == 201, gone.text
    assert (gone.json()["expires_at"], gone.json()["expired"]) == (_day(-1), True)
    kept_body = {"preference": "Wants the summer sale catalogue", "expires_at": _day(0)}
    kept = await client.post(f"{API}/preferences", json=kept_body, headers=headers)
    assert (kept.json()["expires_at"], kept.json()["expired"]) == (_day(0), False)  # inclusive

    assert [r["id"] for r in await search(client, headers, "sale catalogue")] == [kept.json()["id"]]
    assert [m["id"] for m in await all_memories(client, headers)] == [kept.json()["id"]]
    preferences = (await client.get(f"{API}/preferences", headers=headers)).json()
    assert [m["id"] for m in preferences["results"]] == [kept.json()["id"]]
    summary = (await client.get(f"{API}/summary", headers=headers)).json()["summary"]
    assert summary["total_memories"] == 1

    every = await _listed(client, headers, include_expired="true")
    assert {(m["id"], m["expired"]) for m in every} == {
        (gone.json()["id"], True),
        (kept.json()["id"], False),
    }
    by_id = await client.get(f"{API}/memories/{gone.json()['id']}", headers=headers)
    assert by_id.status_code == 200
    assert by_id.json()["expired"] is True
    exported = (await client.get(f"{API}/export", headers=headers)).text
    assert gone.json()["id"] in exported

    forgotten = await client.delete(f"{API}/memories", headers=headers)
    assert forgotten.json() == {"deleted": 2}
    assert await _listed(client, headers, include_expired="true") == []


async def test_a_conversation_can_expire(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    await remember(client, headers, "I am in Rome this week", expires_at=_day(-1))
    await remember(client, headers, "I live in Turin", expires_at=_day(30))
    assert [m["memory"] for m in await all_memories(client, headers)] == ["I live in Turin"]
    every = {m["memory"]: m for m in await _listed(client, headers, include_expired="true")}
    assert every["I am in Rome this week"]["expires_at"] == _day(-1)
    assert every["I am in Rome this week"]["expired"] is True
    assert every["I live in Turin"]["expires_at"] == _day(30)
    assert "expiration_date" not in every["I live in Turin"]["metadata"]


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", 20261231, "2026-12-31T00:00:00", ""])
async def test_an_expiry_must_be_a_date(
    client: httpx.AsyncClient, user: User, value: object
) -> None:
    _, headers = user
    body = {"preference": "Likes plums", "expires_at": value}
    response = await client.post(f"{API}/preferences", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "YYYY-MM-DD" in response.text or "valid date" in response.text
    conversation = {"messages": [{"role": "user", "content": "hi"}], "expires_at": value}
    response = await client.post(f"{API}/conversation", json=conversation, headers=headers)
    assert response.status_code == 422, response.text
    assert await _listed(client, headers, include_expired="true") == []


async def test_an_edit_can_set_and_clear_an_expiry(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    body = {"preference": "Is on a gluten-free diet this month"}
    memory_id = (await client.post(f"{API}/preferences", json=body, headers=headers)).json()["id"]

    expire = await client.put(
        f"{API}/memories/{memory_id}", json={"expires_at": _day(-1)}, headers=headers
    )
    assert expire.status_code == 200, expire.text
    assert (expire.json()["expires_at"], expire.json()["expired"]) == (_day(-1), True)
    assert expire.json()["memory"] == "Is on a gluten-free diet this month"
    assert await all_memories(client, headers) == []

    cleared = await client.put(
        f"{API}/memories/{memory_id}", json={"expires_at": None}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["expires_at"], cleared.json()["expired"]) == (None, False)
    assert [m["id"] for m in await all_memories(client, headers)] == [memory_id]
