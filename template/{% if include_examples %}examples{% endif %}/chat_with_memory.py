"""Chat from the terminal with an assistant that remembers you.

Each message goes to POST /api/v1/chat, which recalls your relevant memories, answers with
them as context and queues the turn to be stored as memories. The example waits for that job
(GET /api/v1/memory/jobs/{id}, at most --wait seconds) before it asks for the next message,
so that the next answer can recall what you just said.

    uv run python -m examples.chat_with_memory                       # chat until /quit or Ctrl-D
    uv run python -m examples.chat_with_memory --message "Where do I live?"   # one turn
    uv run python -m examples.chat_with_memory --user bob --url http://127.0.0.1:8000
"""

import time

import httpx

from examples._client import CHAT_API, MEMORY_API, checked, connect, parser, run

QUIT = frozenset({"/quit", "/exit"})
UNFINISHED = frozenset({"queued", "running", "retrying"})
POLL_SECONDS = 0.25


def remember(http: httpx.Client, job_id: str, wait: float) -> None:
    """Wait until the turn's job is done (or `wait` seconds pass), and say what became of it."""
    deadline = time.monotonic() + wait
    while True:
        job = checked(http.get(f"{MEMORY_API}/jobs/{job_id}"))
        if job["status"] not in UNFINISHED:
            break
        if time.monotonic() >= deadline:
            reason = f" ({job['reason']})" if job.get("reason") else ""
            print(f"  (still storing this turn{reason}; it is kept and will be remembered)")
            return
        time.sleep(POLL_SECONDS)
    if job["status"] == "done":
        count = len(job["memory_ids"])
        print(f"  (remembered: {count} new or updated memor{'y' if count == 1 else 'ies'})")
    else:
        print(f"  (not remembered: {job['status']}, {job.get('reason') or 'no reason given'})")


def chat_turn(http: httpx.Client, message: str, session_id: str | None, wait: float) -> str:
    """Send one message, print the answer and the memories it used, wait until the turn is
    stored; return the session id."""
    body: dict[str, str] = {"message": message}
    if session_id:
        body["session_id"] = session_id
    reply = checked(http.post(CHAT_API, json=body))
    print(f"assistant> {reply['answer']}")
    memories = reply["memories"]
    if memories:
        print(f"  (recalled {len(memories)}: " + "; ".join(m["memory"] for m in memories) + ")")
    else:
        print("  (recalled nothing yet)")
    remember(http, reply["job_id"], wait)
    session: str = reply["session_id"]
    return session


def repl(http: httpx.Client, session_id: str | None, wait: float) -> None:
    print("Chat with memory. Type /quit or press Ctrl-D to leave.")
    while True:
        try:
            message = input("you> ").strip()
        except EOFError:
            print()
            return
        if message in QUIT:
            return
        if message:
            session_id = chat_turn(http, message, session_id, wait)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--message", help="send this one message and exit")
    arguments.add_argument("--session", help="continue this chat session (default: a new one)")
    arguments.add_argument(
        "--wait",
        type=float,
        default=30.0,
        help="seconds to wait for a turn to be stored before the next message (default: 30)",
    )
    args = arguments.parse_args()
    with connect(args) as http:
        if args.message is not None:
            chat_turn(http, args.message, args.session, args.wait)
        else:
            repl(http, args.session, args.wait)


if __name__ == "__main__":
    run(main)
