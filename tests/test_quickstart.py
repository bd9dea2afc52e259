"""The README's quick start, run as a new user would run it, and then its update command.

The commands come from README.md itself (its first `bash` block under "Quick start" and
under "Updating a generated project"), so the README cannot drift from what works.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from harness import ANSWERS_FILE, copy_template_tree, git, tail, tool_env

pytestmark = pytest.mark.slow

TIMEOUT = 900


def bash_block(readme: str, heading: str) -> list[str]:
    """The command lines of the first ```bash block after `heading`."""
    section = readme.split(f"\n{heading}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"no bash block under {heading!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def run_lines(lines: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The lines, in one bash with -e, as a user pastes them (`pip install uv` only if needed)."""
    script = ["set -euo pipefail"]
    for line in lines:
        if line.split("#")[0].split() == ["pip", "install", "uv"] and shutil.which("uv"):
            continue  # uv is here already; the line is for machines without it
        script.append(line)
    return subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env={**tool_env(), "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", message)


def test_the_readme_quick_start_renders_a_project_that_updates(tmp_path: Path) -> None:
    clone = copy_template_tree(tmp_path / "template")  # a user's clone of this repository
    git(clone, "init", "-q", "-b", "main")
    commit_all(clone, "the template")
    readme = (clone / "README.md").read_text()

    first_run = run_lines(bash_block(readme, "## Quick start"), clone)
    output = first_run.stdout + first_run.stderr
    assert first_run.returncode == 0, tail(output)

    project = tmp_path / "my-service"
    answers = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert answers["_src_path"] == str(clone)  # absolute: `copier update` can find it
    assert answers["_commit"]
    env_lines = dict(
        line.split("=", 1) for line in (project / ".env").read_text().splitlines() if "=" in line
    )
    assert len(env_lines["JWT_SECRET"]) >= 32
    assert (project / "data" / "mem0").is_dir()
    # A fresh project has no API key yet: the setup says so and how to go on offline.
    assert "OPENAI_API_KEY: empty" in output
    assert "Try it offline" in output
    assert "Traceback" not in output

    # A new template release, then the README's update command in the committed project.
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "rendered")
    readme_template = clone / "template" / "README.md.jinja"
    readme_template.write_text(readme_template.read_text() + "\nAdded by a later release.\n")
    commit_all(clone, "a later release")

    update = run_lines(bash_block(readme, "## Updating a generated project"), project)
    assert update.returncode == 0, tail(update.stdout + update.stderr)
    assert "Added by a later release." in (project / "README.md").read_text()
    updated = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert updated["_commit"] != answers["_commit"]
    assert updated["_src_path"] == str(clone)
