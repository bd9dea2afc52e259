"""Store categorized preferences, read them back by category, and see them personalize a chat.

Preferences are stored verbatim (no extraction) with a category, through
POST /api/v1/memory/preferences; GET /api/v1/memory/preferences?category=... reads them back.
Then a question goes to POST /api/v1/chat: the assistant recalls the preferences that match
it (food, for a dinner question) and answers with them, and leaves the others (travel) aside.

    uv run python -m examples.user_preferences
    uv run python -m examples.user_preferences --question "Which seat should I book?"

Running it again stores nothing twice: preferences already set are left as they are.
"""

import httpx

from examples._client import CHAT_API, MEMORY_API, checked, connect, parser, run

PREFERENCES: dict[str, list[str]] = {
    "food": ["I am vegetarian", "I love spicy Thai food"],
    "travel": ["I prefer aisle seats on flights"],
    "communication": ["Keep answers short, in bullet points"],
}
DEFAULT_QUESTION = "Suggest a spicy vegetarian dinner I could cook tonight."


def store_preferences(http: httpx.Client) -> None:
    print("Setting preferences:")
    for category, preferences in PREFERENCES.items():
        existing = checked(http.get(f"{MEMORY_API}/preferences", params={"category": category}))
        known = {item["memory"] for item in existing["results"]}
        for preference in preferences:
            if preference in known:
                print(f"  = [{category}] {preference} (already set)")
                continue
            body = {"preference": preference, "category": category}
            checked(http.post(f"{MEMORY_API}/preferences", json=body), 201)
            print(f"  + [{category}] {preference}")


def show_preferences(http: httpx.Client) -> None:
    print("\nPreferences by category:")
    for category in PREFERENCES:
        listed = checked(http.get(f"{MEMORY_API}/preferences", params={"category": category}))
        print(f"  {category} ({listed['count']}):")
        for item in listed["results"]:
            print(f"    - {item['memory']}")


def ask(http: httpx.Client, question: str) -> None:
    print(f"\nQuestion: {question}")
    reply = checked(http.post(CHAT_API, json={"message": question}))
    print("Memories the assistant used:")
    for item in reply["memories"]:
        category = item["metadata"].get("category", "-")
        print(f"  - [{category}] {item['memory']}")
    if not reply["memories"]:
        print("  (none matched the question)")
    print(f"Answer: {reply['answer']}")


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--question", default=DEFAULT_QUESTION, help="what to ask the chat")
    args = arguments.parse_args()
    with connect(args) as http:
        store_preferences(http)
        show_preferences(http)
        ask(http, args.question)


if __name__ == "__main__":
    run(main)
