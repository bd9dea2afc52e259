"""Copier migration: rename settings in a project's `.env`.

`.env` holds the project's secrets, so it is git-ignored and Copier never sees it; when a
release renames a setting, `copier update` runs this (a `_migrations` entry in copier.yml)
in the project's root, so that the values there keep working under their new names.

    python hooks/rename_settings.py OLD_NAME=NEW_NAME [OLD_NAME=NEW_NAME ...]

Each `OLD_NAME=value` line (also `export OLD_NAME=...` and a commented-out `# OLD_NAME=...`)
becomes `NEW_NAME=value`, the value and the rest of the line untouched. When `.env` sets
NEW_NAME already, the old line is left alone and reported instead. Nothing else in the file
changes; it keeps its permissions (it is written next to itself and moved into place). No
`.env` (a project that never ran its setup script): nothing to do.

Standard library only: it runs with the Python that runs Copier.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _assignment(name: str) -> re.Pattern[str]:
    """A line that sets (or, commented out, documents) `name`."""
    return re.compile(rf"^(\s*(?:#\s*)?(?:export\s+)?){re.escape(name)}(\s*=)")


def rename(text: str, renames: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with the settings renamed, and one line of report per change or refusal."""
    lines = text.splitlines(keepends=True)
    report: list[str] = []
    for old, new in renames.items():
        sets_new = any(
            _assignment(new).match(line) and not line.lstrip().startswith("#") for line in lines
        )
        pattern = _assignment(old)
        for index, line in enumerate(lines):
            if not pattern.match(line):
                continue
            if sets_new and not line.lstrip().startswith("#"):
                report.append(f"{old} is set, and so is {new}: kept both, {new} is the one read")
                continue
            lines[index] = pattern.sub(rf"\g<1>{new}\g<2>", line, count=1)
            report.append(f"renamed {old} to {new}")
    return "".join(lines), report


def parse(arguments: list[str]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for argument in arguments:
        old, _, new = argument.partition("=")
        if not (_NAME.match(old) and _NAME.match(new)):
            raise SystemExit(f"rename_settings.py: expected OLD_NAME=NEW_NAME, got {argument!r}")
        renames[old] = new
    if not renames:
        raise SystemExit("usage: rename_settings.py OLD_NAME=NEW_NAME [OLD_NAME=NEW_NAME ...]")
    return renames


def main(arguments: list[str]) -> int:
    renames = parse(arguments)
    env_file = Path(".env")
    if not env_file.is_file():
        return 0
    text = env_file.read_text(encoding="utf-8")
    renamed, report = rename(text, renames)
    if renamed != text:
        mode = env_file.stat().st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(dir=env_file.parent, prefix=".env.", text=True)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(renamed)
            os.chmod(temporary, mode)
            os.replace(temporary, env_file)
        except BaseException:
            os.unlink(temporary)
            raise
    for line in report:
        print(f".env: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
