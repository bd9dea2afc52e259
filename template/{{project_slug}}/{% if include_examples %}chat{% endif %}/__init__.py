"""The chat example: an assistant that answers with what it remembers about the caller.

It shows the memory loop a chat product runs on every turn: recall the caller's relevant
memories, answer with them as context, and store the turn so that later chats recall it.
"""
