"""`python -m <package>.jobs list-failed | retry-failed`: the conversation jobs that failed.

A job fails once its retries are used up (JOB_MAX_ATTEMPTS, JOB_MAX_AGE_SECONDS); it keeps
its conversation until it is retried or its user is forgotten. Works with either queue: the
embedded one in DATA_DIR (the service may keep running) or the Redis one at JOB_QUEUE_URL.

- `list-failed`: one line per failed job, oldest first: id, user id, attempts, when it
  failed (UTC) and why, separated by tabs.
- `retry-failed`: queue every failed job again with a fresh retry budget; prints how many.

Exit code 0, or 1 when the queue cannot be reached (the reason goes to stderr).
"""

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime

from .errors import ProviderUnavailableError
from .ingest.build import open_queue
from .ingest.model import JobState
from .settings import Settings, settings_or_exit


def describe(job: JobState) -> str:
    failed_at = datetime.fromtimestamp(job.updated_at, UTC).isoformat(timespec="seconds")
    return "\t".join([job.id, job.user_id, str(job.attempts), failed_at, job.reason or ""])


async def run(command: str, settings: Settings) -> None:
    queue = open_queue(settings)
    await queue.start(None)  # no workers: only read and queue
    try:
        if command == "list-failed":
            async for job in queue.failed():
                print(describe(job))
        else:
            print(f"{await queue.retry_failed()} failed jobs queued again")
    finally:
        await queue.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.jobs", description="The conversation jobs that failed."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list-failed", help="one line per failed job, oldest first")
    commands.add_parser("retry-failed", help="queue every failed job again, with a fresh budget")
    args = parser.parse_args(argv)
    # Warnings and errors only, on stderr: stdout is the command's answer.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = settings_or_exit(f"{parser.prog} {args.command}")
    try:
        asyncio.run(run(args.command, settings))
    except ProviderUnavailableError as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
