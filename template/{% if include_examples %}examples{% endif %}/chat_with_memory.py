"""Chat from the terminal with an assistant that remembers you.

Each message goes to POST /api/v1/chat, which recalls your relevant memories, answers with
them as context and stores the turn in the background, so that the next messages (and the
next sessions) can recall what you said.

    uv run python -m examples.chat_with_memory                       # chat until /quit or Ctrl-D
    uv run python -m examples.chat_with_memory --message "Where do I live?"   # one turn
    uv run python -m examples.chat_with_memory --user bob --url http://127.0.0.1:8000
"""

import httpx

from examples._client import CHAT_API, checked, connect, parser, run

QUIT = frozenset({"/quit", "/exit"})


def chat_turn(http: httpx.Client, message: str, session_id: str | None) -> str:
    """Send one message, print the answer and the memories it used; return the session id."""
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
    session: str = reply["session_id"]
    return session


def repl(http: httpx.Client, session_id: str | None) -> None:
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
            session_id = chat_turn(http, message, session_id)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--message", help="send this one message and exit")
    arguments.add_argument("--session", help="continue this chat session (default: a new one)")
    args = arguments.parse_args()
    with connect(args) as http:
        if args.message is not None:
            chat_turn(http, args.message, args.session)
        else:
            repl(http, args.session)


if __name__ == "__main__":
    run(main)
