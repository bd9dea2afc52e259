"""A fake OpenAI-compatible model server, deterministic and offline.

- `POST /v1/embeddings`: a vector per input built from its words (hashed into buckets), so
  texts that share words land near each other and unrelated texts do not.
- `POST /v1/chat/completions`: for mem0's extraction prompt, the JSON mem0 parses
  (`{"memory": [{"text": ...}]}`) with one memory per new user message; for any other chat,
  a short deterministic answer that quotes the last user message and any "Memories:" context.
- `POST /_fake/faults` injects failures and latency; `GET /_fake/stats` counts requests.

Run it on its own to try the service without API keys:

    uv run python -m tests.fakes.model_server --port 8089

then point the service's model base URL at http://127.0.0.1:8089/v1 (README: "Try it offline").
"""

import argparse
import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
from collections import Counter
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tests.fakes.loopback import LoopbackServer

DEFAULT_DIMS = 1536
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "did", "for",
        "from", "has", "have", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "so",
        "that", "the", "their", "them", "they", "this", "to", "was", "we", "were", "what", "when",
        "where", "which", "who", "why", "will", "with", "you", "your",
    }
)  # fmt: skip
_NEW_MESSAGES = re.compile(r"## New Messages\n(.*?)\n\n## ", re.DOTALL)
_ROLE_LINE = re.compile(r"^(user|assistant|system): ?(.*)$")


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # crude plural folding: "likes" ~ "like"
        words.append(word)
    return words


def embed(text: str, dims: int) -> list[float]:
    """Feature-hash the words of `text` into a unit vector of `dims` floats."""
    vector = [0.0] * dims
    for word, count in Counter(_words(text) or ["<empty>"]).items():
        digest = hashlib.sha256(word.encode()).digest()
        for i in range(4):
            bucket = int.from_bytes(digest[4 * i : 4 * i + 3], "big") % dims
            sign = 1.0 if digest[4 * i + 3] & 1 else -1.0
            vector[bucket] += sign * count
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def extraction_answer(prompt: str) -> str:
    """What mem0's extraction call expects: one memory per new user message."""
    match = _NEW_MESSAGES.search(prompt)
    block = match.group(1) if match else ""
    messages: list[tuple[str, str]] = []
    for line in block.splitlines():
        role_line = _ROLE_LINE.match(line)
        if role_line:
            messages.append((role_line.group(1), role_line.group(2)))
        elif messages:
            role, text = messages[-1]
            messages[-1] = (role, f"{text} {line}")
    memories = [
        {"text": " ".join(text.split())[:500]}
        for role, text in messages
        if role == "user" and text.strip()
    ]
    return json.dumps({"memory": memories})


def chat_answer(messages: list[dict[str, Any]]) -> str:
    last_user = next(
        (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    context = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    answer = f"You said: {last_user.strip()}"
    if "Memories:" in context:
        answer += " | I remember: " + context.split("Memories:", 1)[1].strip()
    return answer


class Faults(BaseModel):
    fail: list[str] = Field(default_factory=list, description="'embeddings' and/or 'chat'")
    status: int = 503
    latency_seconds: float = 0.0


class FakeState:
    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.faults = Faults()
        self.calls: Counter[str] = Counter()


def create_fake_app(dims: int = DEFAULT_DIMS) -> FastAPI:
    app = FastAPI(title="Fake OpenAI-compatible model server")
    state = FakeState(dims)
    app.state.fake = state

    async def _inject(kind: str) -> JSONResponse | None:
        state.calls[kind] += 1
        if state.faults.latency_seconds:
            await asyncio.sleep(state.faults.latency_seconds)
        if kind in state.faults.fail:
            return JSONResponse(
                status_code=state.faults.status,
                content={"error": {"message": f"fake {kind} failure", "type": "server_error"}},
            )
        return None

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        if (failure := await _inject("embeddings")) is not None:
            return failure
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or state.dims)
        data = []
        for index, text in enumerate(inputs):
            vector = embed(str(text), dims)
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(text).split()) for text in inputs)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        if (failure := await _inject("chat")) is not None:
            return failure
        body = await request.json()
        messages = body.get("messages", [])
        prompt = str(messages[-1].get("content", "")) if messages else ""
        # mem0's extraction call ends with a user prompt holding a "## New Messages" section.
        content = (
            extraction_answer(prompt) if "## New Messages" in prompt else chat_answer(messages)
        )
        return {
            "id": "chatcmpl-fake-" + hashlib.sha256(prompt.encode()).hexdigest()[:12],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-chat"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(content.split()),
                "total_tokens": len(prompt.split()) + len(content.split()),
            },
        }

    @app.post("/_fake/faults")
    async def set_faults(faults: Faults) -> Faults:
        state.faults = faults
        return faults

    @app.get("/_fake/stats")
    async def stats() -> dict[str, int]:
        return dict(state.calls)

    return app


class FakeModelServer(LoopbackServer):
    """Runs the fake on a free loopback port in a background thread (for tests)."""

    def __init__(self, dims: int = DEFAULT_DIMS, host: str = "127.0.0.1") -> None:
        super().__init__(create_fake_app(dims), host)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def state(self) -> FakeState:
        state: FakeState = self.app.state.fake
        return state

    def set_faults(
        self, fail: list[str] | None = None, status: int = 503, latency: float = 0.0
    ) -> None:
        self.state.faults = Faults(fail=fail or [], status=status, latency_seconds=latency)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument(
        "--dims",
        type=int,
        default=DEFAULT_DIMS,
        help="embedding size when the request does not name one",
    )
    args = parser.parse_args()
    print(f"Fake model server on http://{args.host}:{args.port}/v1 (embedding dims {args.dims})")
    uvicorn.run(create_fake_app(args.dims), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
