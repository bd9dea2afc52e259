"""Fakes for what is truly remote, speaking the same HTTP API as the real thing."""
