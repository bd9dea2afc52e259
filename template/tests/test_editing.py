"""Changing memories: edit one (text and metadata), read its history, and work in batches
(several conversations in one request, several memories deleted all-or-nothing)."""

import uuid
from typing import Any

import httpx
import pytest

from tests.helpers import API, all_memories, search, wait_for_job

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


async def _preference(
    client: httpx.AsyncClient, headers: dict[str, str], text: str, category: str = "general"
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/preferences", json={"preference": text, "category": category}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _history(
    client: httpx.AsyncClient, headers: dict[str, str], memory_id: str
) -> list[tuple[str, str | None, str | None]]:
    response = await client.get(f"{API}/memories/{memory_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["memory_id"] == memory_id
    return [(e["event"], e["old_memory"], e["new_memory"]) for e in body["events"]]


async def test_a_new_text_replaces_the_old_one_everywhere_and_in_history(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    created = await _preference(client, headers, "I drink black coffee every morning", "drinks")
    memory_id = created["id"]
    assert await _history(client, headers, memory_id) == [
        ("ADD", None, "I drink black coffee every morning")
    ]

    response = await client.put(
        f"{API}/memories/{memory_id}",
        json={"memory": "I drink green tea every morning"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["id"] == memory_id
    assert updated["memory"] == "I drink green tea every morning"
    assert updated["metadata"] == {"type": "preference", "category": "drinks"}
    assert updated["created_at"] == created["created_at"]

    read = (await client.get(f"{API}/memories/{memory_id}", headers=headers)).json()
    assert read["memory"] == "I drink green tea every morning"
    found = await search(client, headers, "What do I drink in the morning?")
    assert [(r["id"], r["memory"]) for r in found] == [
        (memory_id, "I drink green tea every morning")
    ]
    assert await _history(client, headers, memory_id) == [
        ("ADD", None, "I drink black coffee every morning"),
        ("UPDATE", "I drink black coffee every morning", "I drink green tea every morning"),
    ]


async def test_metadata_is_merged_and_the_text_kept(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    memory_id = (await _preference(client, headers, "Prefers window seats", "travel"))["id"]

    first = await client.put(
        f"{API}/memories/{memory_id}",
        json={"metadata": {"mood": "calm", "rank": 1}},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    second = await client.put(
        f"{API}/memories/{memory_id}", json={"metadata": {"mood": "happy"}}, headers=headers
    )
    assert second.status_code == 200, second.text
    assert second.json()["memory"] == "Prefers window seats"
    assert second.json()["metadata"] == {
        "type": "preference",
        "category": "travel",
        "mood": "happy",
        "rank": 1,
    }
    listed = (await client.get(f"{API}/preferences?category=travel", headers=headers)).json()
    assert [m["id"] for m in listed["results"]] == [memory_id]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "give the new text"),
        ({"metadata": {}}, "give the new text"),
        ({"memory": None}, "give the new text"),
        ({"expires_at": "soon"}, "YYYY-MM-DD"),
        ({"memory": "   "}, "must not be empty"),
        ({"memory": "x" * 1001}, "at most 1000 characters"),
        ({"metadata": {"category": "other"}}, "reserved by the service"),
        ({"metadata": {"type": "conversation"}}, "reserved by the service"),
        ({"metadata": {"user_id": "someone-else"}}, "access token"),
        ({"metadata": {"nested": {"a": 1}}}, "no nesting"),
        ({"memory": "New text", "user_id": "x"}, "Extra inputs are not permitted"),
    ],
)
async def test_a_bad_edit_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, user: User, body: dict[str, Any], says: str
) -> None:
    _, headers = user
    created = await _preference(client, headers, "Reads crime novels", "books")
    response = await client.put(f"{API}/memories/{created['id']}", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert says in response.text
    read = (await client.get(f"{API}/memories/{created['id']}", headers=headers)).json()
    assert (read["memory"], read["metadata"]) == (created["memory"], created["metadata"])


async def test_a_deleted_memory_has_no_history_and_cannot_be_edited(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    memory_id = (await _preference(client, headers, "Collects vinyl records"))["id"]
    assert (await client.delete(f"{API}/memories/{memory_id}", headers=headers)).status_code == 204
    history = await client.get(f"{API}/memories/{memory_id}/history", headers=headers)
    assert history.status_code == 404
    edit = await client.put(f"{API}/memories/{memory_id}", json={"memory": "x"}, headers=headers)
    assert edit.status_code == 404


async def test_a_batch_of_conversations_is_one_job_each(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    texts = ["I keep two cats", "I sail on weekends", "I am learning Portuguese"]
    body = {
        "conversations": [
            {"messages": [{"role": "user", "content": text}], "session_id": f"s{number}"}
            for number, text in enumerate(texts)
        ]
    }
    response = await client.post(f"{API}/batch/conversations", json=body, headers=headers)
    assert response.status_code == 202, response.text
    batch = response.json()
    assert (batch["queued"], batch["not_queued"]) == (3, 0)
    assert "retry-after" not in response.headers
    job_ids = [job["job_id"] for job in batch["jobs"]]
    assert len(set(job_ids)) == 3
    for job_id in job_ids:
        assert (await wait_for_job(client, headers, job_id))["status"] == "done"
    stored = {m["memory"]: m["metadata"]["session_id"] for m in await all_memories(client, headers)}
    assert stored == {text: f"s{number}" for number, text in enumerate(texts)}


async def test_a_retried_batch_is_the_same_jobs_and_stored_once(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    body = {"conversations": [{"messages": [{"role": "user", "content": "I grow tomatoes"}]}]}
    keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(f"{API}/batch/conversations", json=body, headers=keyed)
    again = await client.post(f"{API}/batch/conversations", json=body, headers=keyed)
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    job_ids = [job["job_id"] for job in first.json()["jobs"]]
    assert [job["job_id"] for job in again.json()["jobs"]] == job_ids
    await wait_for_job(client, headers, job_ids[0])
    assert [m["memory"] for m in await all_memories(client, headers)] == ["I grow tomatoes"]

    other = {"conversations": [{"messages": [{"role": "user", "content": "Something else"}]}]}
    reused = await client.post(f"{API}/batch/conversations", json=other, headers=keyed)
    assert reused.status_code == 409


@pytest.mark.parametrize(("count", "says"), [(0, "at least 1 item"), (51, "at most 50 items")])
async def test_batches_are_bounded(
    client: httpx.AsyncClient, user: User, count: int, says: str
) -> None:
    _, headers = user
    conversation = {"messages": [{"role": "user", "content": "hi"}]}
    response = await client.post(
        f"{API}/batch/conversations",
        json={"conversations": [conversation] * count},
        headers=headers,
    )
    assert response.status_code == 422
    assert says in response.text
    ids = [str(uuid.uuid4()) for _ in range(count)]
    response = await client.post(f"{API}/batch/delete", json={"memory_ids": ids}, headers=headers)
    assert response.status_code == 422
    assert says in response.text


async def test_a_batch_delete_is_all_or_nothing(client: httpx.AsyncClient, new_user: Any) -> None:
    _, alice = new_user()
    _, bob = new_user()
    mine = [(await _preference(client, alice, f"Alice likes {what}"))["id"] for what in "xyz"]
    theirs = (await _preference(client, bob, "Bob likes w"))["id"]

    for ids in ([mine[0], theirs], [mine[0], str(uuid.uuid4())]):
        response = await client.post(f"{API}/batch/delete", json={"memory_ids": ids}, headers=alice)
        assert response.status_code == 404, response.text
    assert sorted(m["id"] for m in await all_memories(client, alice)) == sorted(mine)
    assert [m["id"] for m in await all_memories(client, bob)] == [theirs]

    twice = await client.post(
        f"{API}/batch/delete", json={"memory_ids": [mine[0], mine[0]]}, headers=alice
    )
    assert twice.status_code == 422
    assert "must not name a memory twice" in twice.text

    response = await client.post(
        f"{API}/batch/delete", json={"memory_ids": mine[:2]}, headers=alice
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 2}
    assert [m["id"] for m in await all_memories(client, alice)] == [mine[2]]
    for memory_id in mine[:2]:
        gone = await client.get(f"{API}/memories/{memory_id}/history", headers=alice)
        assert gone.status_code == 404
