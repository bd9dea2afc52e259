"""Example programs: small command-line clients of a running service (see README.md here)."""
