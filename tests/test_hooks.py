"""hooks/: the migrations `copier update` runs (copier.yml's `_migrations`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from harness import TEMPLATE_ROOT

HOOK = TEMPLATE_ROOT / "hooks" / "rename_settings.py"
RENAMES = ["MEMORY_CACHE_TTL_SECONDS=SEARCH_CACHE_TTL_SECONDS"]


def _run(cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HOOK), *arguments],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )


def test_a_renamed_setting_keeps_its_value_and_the_rest_of_env_is_untouched(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "JWT_SECRET=abc\n"
        "MEMORY_CACHE_TTL_SECONDS = 42   # tuned\n"
        "  export MEMORY_CACHE_TTL_SECONDS=43\n"
        "#MEMORY_CACHE_TTL_SECONDS=300\n"
        "MEMORY_CACHE_TTL_SECONDS_EXTRA=1\n"
        "OTHER=MEMORY_CACHE_TTL_SECONDS=7\n"
        "no newline at the end"
    )
    env.chmod(0o600)
    result = _run(tmp_path, *RENAMES)
    assert result.returncode == 0, result.stderr
    assert env.read_text() == (
        "JWT_SECRET=abc\n"
        "SEARCH_CACHE_TTL_SECONDS = 42   # tuned\n"
        "  export SEARCH_CACHE_TTL_SECONDS=43\n"
        "#SEARCH_CACHE_TTL_SECONDS=300\n"
        "MEMORY_CACHE_TTL_SECONDS_EXTRA=1\n"
        "OTHER=MEMORY_CACHE_TTL_SECONDS=7\n"
        "no newline at the end"
    )
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "renamed MEMORY_CACHE_TTL_SECONDS to SEARCH_CACHE_TTL_SECONDS" in result.stdout
    assert [path.name for path in tmp_path.iterdir()] == [".env"]  # no temporary file left


def test_a_setting_already_set_under_its_new_name_is_not_duplicated(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    text = "SEARCH_CACHE_TTL_SECONDS=60\nMEMORY_CACHE_TTL_SECONDS=42\n"
    env.write_text(text)
    result = _run(tmp_path, *RENAMES)
    assert result.returncode == 0, result.stderr
    assert env.read_text() == text
    assert "SEARCH_CACHE_TTL_SECONDS is the one read" in result.stdout


def test_without_env_there_is_nothing_to_do(tmp_path: Path) -> None:
    result = _run(tmp_path, *RENAMES)
    assert (result.returncode, list(tmp_path.iterdir())) == (0, [])


@pytest.mark.parametrize("argument", ["lower=CASE", "OLD", "OLD=", "A=B C"])
def test_a_malformed_rename_is_refused(tmp_path: Path, argument: str) -> None:
    (tmp_path / ".env").write_text("OLD=1\n")
    result = _run(tmp_path, argument)
    assert result.returncode != 0
    assert "OLD_NAME=NEW_NAME" in result.stderr
    assert (tmp_path / ".env").read_text() == "OLD=1\n"


def test_every_migration_runs_a_hook_that_exists_with_copiers_python() -> None:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    migrations = config["_migrations"]
    assert migrations
    for migration in migrations:
        command = migration["command"]
        assert command[0] == "{{ _copier_python }}"  # not whatever `python` is on the PATH
        hook = command[1].replace("{{ _copier_conf.src_path }}/", "")
        assert (TEMPLATE_ROOT / hook).is_file(), hook
        assert migration["when"] == "{{ _stage == 'after' }}"
    assert os.access(HOOK, os.R_OK)
