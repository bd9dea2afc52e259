"""Every route's happy path, over HTTP against the real mem0 pipeline."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import auth_headers, make_settings, serve
from tests.helpers import API, all_memories, remember, search, wait_for_job

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_conversation_is_accepted_and_becomes_searchable(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    body = {
        "messages": [
            {"role": "system", "content": "You are a helpful travel assistant."},
            {"role": "user", "content": "I am vegetarian and I love Italian food"},
            {"role": "assistant", "content": "Noted, I will suggest vegetarian Italian places."},
        ],
        "session_id": "trip-2026",
        "metadata": {"source": "mobile", "priority": 2},
    }
    response = await client.post(f"{API}/conversation", json=body, headers=headers)
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["messages"] == 3
    assert response.headers["location"] == f"{API}/jobs/{accepted['job_id']}"

    job = await wait_for_job(client, headers, accepted["job_id"])
    assert job["status"] == "done"
    assert job["attempts"] == 1
    results = await search(client, headers, "Which food do I love?")
    if job["memory_ids"]:  # a hosted store extracts later and names no memory yet
        assert [r["id"] for r in results] == job["memory_ids"]
    assert [r["memory"] for r in results] == ["I am vegetarian and I love Italian food"]
    found = results[0]
    assert found["score"] > 0
    assert found["metadata"] == {
        "source": "mobile",
        "priority": 2,
        "session_id": "trip-2026",
        "type": "conversation",
    }


async def test_search_shape_limit_and_filters(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    await remember(client, headers, "I play tennis on Mondays", session_id="a")
    await remember(client, headers, "I play chess on Tuesdays", session_id="b")
    await remember(client, headers, "I play guitar on Fridays", session_id="c")

    response = await client.post(
        f"{API}/search", json={"query": "What do I play?"}, headers=headers
    )
    assert response.status_code == 200
    payload = response.json()
    assert payload["query"] == "What do I play?"
    assert payload["count"] == len(payload["results"]) == 3

    limited = await search(client, headers, "What do I play?", limit=2)
    assert len(limited) == 2

    only_b = await search(client, headers, "What do I play?", filters={"session_id": "b"})
    assert [r["memory"] for r in only_b] == ["I play chess on Tuesdays"]


async def test_unrelated_query_finds_nothing(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    await remember(client, headers, "My sister lives in Lisbon")
    assert await search(client, headers, "quantum chromodynamics lecture") == []


async def test_preferences_are_stored_listed_and_filtered(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    created = await client.post(
        f"{API}/preferences",
        json={"preference": "Prefers dark mode", "category": "UI"},
        headers=headers,
    )
    assert created.status_code == 201
    item = created.json()
    assert item["memory"] == "Prefers dark mode"
    assert item["metadata"] == {"type": "preference", "category": "ui"}
    default = await client.post(
        f"{API}/preferences", json={"preference": "Answers in English"}, headers=headers
    )
    assert default.json()["metadata"]["category"] == "general"

    listed = (await client.get(f"{API}/preferences", headers=headers)).json()
    assert listed["count"] == 2
    assert {p["memory"] for p in listed["results"]} == {"Prefers dark mode", "Answers in English"}

    ui_only = (
        await client.get(f"{API}/preferences", params={"category": "ui"}, headers=headers)
    ).json()
    assert [p["memory"] for p in ui_only["results"]] == ["Prefers dark mode"]


async def test_preferences_exclude_conversation_memories(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    await remember(client, headers, "I drive a blue bicycle")
    listed = (await client.get(f"{API}/preferences", headers=headers)).json()
    assert listed == {"results": [], "count": 0, "truncated": False}


async def test_summary_counts_preferences_and_recent(client: httpx.AsyncClient, user: User) -> None:
    user_id, headers = user
    await remember(client, headers, "I work as a nurse in Porto")
    for preference, category in [
        ("Likes jazz", "music"),
        ("Likes techno", "music"),
        ("Window seat", "travel"),
    ]:
        response = await client.post(
            f"{API}/preferences",
            json={"preference": preference, "category": category},
            headers=headers,
        )
        assert response.status_code == 201

    response = await client.get(f"{API}/summary", headers=headers)
    assert response.status_code == 200
    payload = response.json()
    assert payload["user_id"] == user_id
    summary = payload["summary"]
    assert summary["total_memories"] == 4
    assert sorted(summary["preferences"]["music"]) == ["Likes jazz", "Likes techno"]
    assert summary["preferences"]["travel"] == ["Window seat"]
    recent = [m["memory"] for m in summary["recent_memories"]]
    assert recent[0] == "Window seat"
    assert "I work as a nurse in Porto" in recent


async def test_summary_of_a_new_user_is_empty(client: httpx.AsyncClient, user: User) -> None:
    user_id, headers = user
    payload = (await client.get(f"{API}/summary", headers=headers)).json()
    assert payload == {
        "user_id": user_id,
        "summary": {
            "total_memories": 0,
            "truncated": False,
            "preferences": {},
            "recent_memories": [],
        },
    }


async def test_list_is_paginated_newest_first(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    texts = [f"Fact number {word} about me" for word in ("one", "two", "three", "four", "five")]
    for text in texts:
        await remember(client, headers, text)

    first = (await client.get(f"{API}/memories", params={"limit": 2}, headers=headers)).json()
    assert first["total"] == 5
    assert first["truncated"] is False
    assert first["count"] == 2
    assert (first["limit"], first["offset"]) == (2, 0)
    assert [m["memory"] for m in first["results"]] == [texts[4], texts[3]]

    last = (
        await client.get(f"{API}/memories", params={"limit": 2, "offset": 4}, headers=headers)
    ).json()
    assert [m["memory"] for m in last["results"]] == [texts[0]]


async def test_a_list_cut_at_memory_list_max_says_so(
    service_overrides: dict[str, Any], tmp_path: Path
) -> None:
    """Past MEMORY_LIST_MAX a list, the preferences and the summary say they are cut, rather
    than pass a part for the whole."""
    headers = auth_headers("heavy-lister")
    async with serve(make_settings(tmp_path, **service_overrides, memory_list_max=2)) as http:
        for food in ["Rye bread", "Green tea"]:
            body = {"preference": food, "category": "food"}
            response = await http.post(f"{API}/preferences", json=body, headers=headers)
            assert response.status_code == 201, response.text
        whole = (await http.get(f"{API}/memories", headers=headers)).json()
        assert (whole["total"], whole["truncated"]) == (2, False)
        body = {"preference": "Dark chocolate", "category": "food"}
        assert (await http.post(f"{API}/preferences", json=body, headers=headers)).is_success
        cut = (await http.get(f"{API}/memories", headers=headers)).json()
        assert (cut["count"], cut["total"], cut["truncated"]) == (2, 2, True)
        preferences = (await http.get(f"{API}/preferences", headers=headers)).json()
        assert (preferences["count"], preferences["truncated"]) == (2, True)
        summary = (await http.get(f"{API}/summary", headers=headers)).json()["summary"]
        assert (summary["total_memories"], summary["truncated"]) == (2, True)
        assert (await http.delete(f"{API}/memories", headers=headers)).status_code == 200


async def test_get_and_delete_one_memory(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    await remember(client, headers, "My passport expires in 2031")
    await remember(client, headers, "My cat is called Miso")
    memories = await all_memories(client, headers)
    target = next(m for m in memories if "passport" in m["memory"])

    fetched = await client.get(f"{API}/memories/{target['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["memory"] == "My passport expires in 2031"

    deleted = await client.delete(f"{API}/memories/{target['id']}", headers=headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert "content-type" not in deleted.headers  # an empty answer claims no JSON
    assert (await client.get(f"{API}/memories/{target['id']}", headers=headers)).status_code == 404
    assert [m["memory"] for m in await all_memories(client, headers)] == ["My cat is called Miso"]
    assert (
        await client.delete(f"{API}/memories/{target['id']}", headers=headers)
    ).status_code == 404


async def test_forget_me_deletes_everything(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    _, headers = new_user()
    await remember(client, headers, "I live in Berlin", "I have two kids")
    await client.post(f"{API}/preferences", json={"preference": "Metric units"}, headers=headers)

    response = await client.delete(f"{API}/memories", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    assert await all_memories(client, headers) == []
    assert await search(client, headers, "Where do I live?") == []
    again = await client.delete(f"{API}/memories", headers=headers)
    assert again.json() == {"deleted": 0}


async def test_repeating_a_fact_does_not_duplicate_it(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    await remember(client, headers, "I speak Portuguese")
    await remember(client, headers, "I speak Portuguese")
    assert [m["memory"] for m in await all_memories(client, headers)] == ["I speak Portuguese"]


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = set(spec["paths"])
    assert {
        "/healthz",
        "/readyz",
        f"{API}/conversation",
        f"{API}/search",
        f"{API}/summary",
        f"{API}/preferences",
        f"{API}/memories",
        f"{API}/memories/{{memory_id}}",
        f"{API}/jobs/{{job_id}}",
    } <= paths


async def test_concurrent_writes_for_one_user_do_not_duplicate(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    body = {"messages": [{"role": "user", "content": "My locker code is on a green card"}]}
    responses = await asyncio.gather(
        *(client.post(f"{API}/conversation", json=body, headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [202] * 5
    jobs = [await wait_for_job(client, headers, r.json()["job_id"]) for r in responses]
    assert [job["status"] for job in jobs] == ["done"] * 5
    assert [m["memory"] for m in await all_memories(client, headers)] == [
        "My locker code is on a green card"
    ]
