"""Forgetting a user leaves nothing behind: not in the vector store, not in mem0's history."""

import sqlite3
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import API, all_memories, remember
from tests.store import records_of

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]
SECRET = "zanzibar"


def _history_rows(db_path: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        history = db.execute("SELECT memory_id, old_memory, new_memory FROM history").fetchall()
        messages = db.execute("SELECT session_scope, content FROM messages").fetchall()
    return history + messages


async def test_forget_user_purges_vectors_history_and_messages(
    client: httpx.AsyncClient, app: FastAPI, user: User, new_user: Any
) -> None:
    user_id, headers = user
    other_id, other = new_user()
    await remember(
        client, headers, f"My honeymoon was in {SECRET.title()} Island", session_id="s-1"
    )
    await remember(client, headers, "I am allergic to peanuts")
    await client.post(
        f"{API}/preferences", json={"preference": f"Loves {SECRET} spices"}, headers=headers
    )
    await remember(client, other, "I am allergic to shellfish")
    memory_ids = [m["id"] for m in await all_memories(client, headers)]
    assert len(memory_ids) == 3

    db_path = str(app.state.memory_service._backend._memory.config.history_db_path)
    assert any(SECRET in str(row).lower() for row in _history_rows(db_path))
    assert records_of(app, user_id)

    response = await client.delete(f"{API}/memories", headers=headers)
    assert response.json() == {"deleted": 3}

    assert records_of(app, user_id) == []
    rows = _history_rows(db_path)
    assert not any(SECRET in str(row).lower() for row in rows)
    assert not any(row[0] in memory_ids for row in rows)
    assert not any(user_id in str(row[0]) for row in rows)
    # The other user's data is untouched.
    assert records_of(app, other_id)
    assert any("shellfish" in str(row) for row in rows)


async def test_deleting_one_memory_purges_its_history(
    client: httpx.AsyncClient, app: FastAPI, user: User
) -> None:
    _, headers = user
    await remember(client, headers, "My old address was 12 Quarry Lane")
    memory_id = (await all_memories(client, headers))[0]["id"]
    db_path = str(app.state.memory_service._backend._memory.config.history_db_path)
    assert any(row[0] == memory_id for row in _history_rows(db_path))

    assert (await client.delete(f"{API}/memories/{memory_id}", headers=headers)).status_code == 204
    assert not any(row[0] == memory_id for row in _history_rows(db_path))
