"""Idempotency-Key on POST /conversation and POST /preferences: a client's retry gets the
first answer and stores nothing twice; the same key with another body is refused; keys are
the caller's own."""

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import API, all_memories, wait_for_job

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


def _conversation(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_retried_conversation_is_the_same_job_and_stored_once(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    keyed = {**headers, "Idempotency-Key": "chat-42-turn-7"}
    body = _conversation("I learned to juggle three clubs")
    first = await client.post(f"{API}/conversation", json=body, headers=keyed)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    await wait_for_job(client, headers, first.json()["job_id"])

    again = await client.post(f"{API}/conversation", json=body, headers=keyed)
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.json()["status"] == "done"
    assert [m["memory"] for m in await all_memories(client, headers)] == [
        "I learned to juggle three clubs"
    ]


async def test_concurrent_retries_with_one_key_make_one_job(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    keyed = {**headers, "Idempotency-Key": "burst-of-retries"}
    body = _conversation("My bicycle is a green tandem")
    answers = await asyncio.gather(
        *(client.post(f"{API}/conversation", json=body, headers=keyed) for _ in range(6))
    )
    assert {answer.status_code for answer in answers} == {202}
    job_ids = {answer.json()["job_id"] for answer in answers}
    assert len(job_ids) == 1
    await wait_for_job(client, headers, job_ids.pop())
    assert len(await all_memories(client, headers)) == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    keyed = {**headers, "Idempotency-Key": "reused-key"}
    first = await client.post(
        f"{API}/conversation", json=_conversation("I own a red kayak"), headers=keyed
    )
    await wait_for_job(client, headers, first.json()["job_id"])
    other = await client.post(
        f"{API}/conversation", json=_conversation("I own a blue canoe"), headers=keyed
    )
    assert other.status_code == 409, other.text
    assert "different body" in other.json()["detail"]
    assert [m["memory"] for m in await all_memories(client, headers)] == ["I own a red kayak"]


async def test_keys_belong_to_their_caller(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    (_, alice), (_, bob) = new_user(), new_user()
    key = {"Idempotency-Key": "everyone-uses-this-key"}
    mine = await client.post(
        f"{API}/conversation", json=_conversation("Alice plays the oboe"), headers={**alice, **key}
    )
    theirs = await client.post(
        f"{API}/conversation", json=_conversation("Bob plays the drums"), headers={**bob, **key}
    )
    assert theirs.status_code == 202, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["job_id"] != mine.json()["job_id"]
    # Bob cannot follow Alice's job either.
    peek = await client.get(f"{API}/jobs/{mine.json()['job_id']}", headers=bob)
    assert peek.status_code == 404
    assert peek.json() == {"detail": "Job not found."}


async def test_a_retried_preference_returns_the_first_memory(
    client: httpx.AsyncClient, user: User
) -> None:
    _, headers = user
    keyed = {**headers, "Idempotency-Key": "pref-1"}
    body = {"preference": "Aisle seats on long flights", "category": "travel"}
    first = await client.post(f"{API}/preferences", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = await client.post(f"{API}/preferences", json=body, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await all_memories(client, headers)) == 1

    changed = await client.post(
        f"{API}/preferences", json={**body, "category": "work"}, headers=keyed
    )
    assert changed.status_code == 409, changed.text
    assert len(await all_memories(client, headers)) == 1


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, b"tab\there", "caf\u00e9".encode()])
async def test_a_malformed_key_is_a_422(client: httpx.AsyncClient, user: User, key: bytes) -> None:
    _, headers = user
    raw = {name.encode(): value.encode() for name, value in headers.items()}
    response = await client.post(
        f"{API}/conversation",
        json=_conversation("Never stored"),
        headers={**raw, b"Idempotency-Key": key},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_forget_me_forgets_the_keys_too(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    keyed = {**headers, "Idempotency-Key": "before-forgetting"}
    body = {"preference": "Window seats"}
    assert (await client.post(f"{API}/preferences", json=body, headers=keyed)).status_code == 201
    assert (await client.delete(f"{API}/memories", headers=headers)).status_code == 200
    # The replay held the preference's text; after forget-me the key starts afresh.
    again = await client.post(
        f"{API}/preferences", json={"preference": "Aisle seats"}, headers=keyed
    )
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert [m["memory"] for m in await all_memories(client, headers)] == ["Aisle seats"]
