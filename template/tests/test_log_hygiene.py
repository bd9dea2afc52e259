"""At the most verbose log level, a whole session of the API leaves no secret in the logs:
no access token, no API key or other credential, and none of the memory text. User ids,
memory ids, request ids, routes and outcomes are fine (and useful)."""

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import JWT_SECRET, make_token
from tests.helpers import API
from tests.processes import free_port, service_env, start_service, stop_service, wait_until_ready

SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


def _exercise_every_route(base_url: str, token: str, words: list[str]) -> str:
    """Use every memory route once, as a client would; returns a memory id that was read."""
    conversation, preference, query = words
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=20) as http:
        body = {"messages": [{"role": "user", "content": f"I collect {conversation} stamps"}]}
        assert http.post(f"{API}/conversation", json=body).status_code == 202
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if http.get(f"{API}/memories").json()["total"] == 1:
                break
            time.sleep(0.1)
        created = http.post(f"{API}/preferences", json={"preference": f"Likes {preference} tea"})
        assert created.status_code == 201, created.text
        memory_id: str = created.json()["id"]
        assert http.post(f"{API}/search", json={"query": f"{query} stamps"}).status_code == 200
        assert http.get(f"{API}/summary").status_code == 200
        assert http.get(f"{API}/preferences").status_code == 200
        assert http.get(f"{API}/memories/{memory_id}").status_code == 200
        # Refused input is not logged either (a 422 echoes it to the caller only).
        refused = http.post(f"{API}/search", json={"query": f"{query} stamps", "bogus": query})
        assert refused.status_code == 422
        assert http.delete(f"{API}/memories/{memory_id}").status_code == 204
        assert http.delete(f"{API}/memories").status_code == 200
        bad = {"Authorization": f"Bearer {token}x"}
        assert http.get(f"{API}/memories", headers=bad).status_code == 401
    return memory_id


def test_debug_logs_hold_no_tokens_keys_or_memory_text(
    service_overrides: dict[str, Any], tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(service_overrides, JWT_SECRET, tmp_path / "data", port)
    env["LOG_LEVEL"] = "DEBUG"
    user_id = f"log-user-{uuid.uuid4().hex[:8]}"
    token = make_token(user_id)
    words = [f"zq{uuid.uuid4().hex[:10]}" for _ in range(3)]
    process = start_service(env, tmp_path)
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}")
        memory_id = _exercise_every_route(f"http://127.0.0.1:{port}", token, words)
    finally:
        events = stop_service(process)
    log = "\n".join(json.dumps(event) for event in events)

    secrets = {
        name: value
        for name, value in env.items()
        if name.endswith(SECRET_SUFFIXES) and len(value) >= 6
    }
    assert "JWT_SECRET" in secrets
    leaked = [name for name, value in secrets.items() if value in log]
    assert leaked == [], f"credentials in the logs: {leaked}"
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature
    with_text = [line for line in log.splitlines() if any(word in line for word in words)]
    assert with_text == [], "memory text is in the logs"
    # ...while the log still says who did what.
    assert user_id in log
    assert memory_id in log
    assert any(event.get("level") == "debug" for event in events), "DEBUG was not in effect"
    # Extras the service leaves out on purpose (spaCy, fastembed) are not reported as faults.
    advice = [event for event in events if "pip install" in json.dumps(event)]
    assert advice == [], f"the logs tell the operator to install something: {advice}"
