"""Every release in CHANGELOG.md, rendered in each memory mode and updated to the working tree.

The releases are rendered from the commits CHANGELOG.md names (tagged here, in a clone of
this repository, so the test works in a clone without tags). The working tree is committed
on top as the release being prepared. For each release and mode, with every option on:

- with no user edits, the update gives exactly a fresh render of the working tree;
- with the edits an owner makes (a route, a settings default, a README section, a test
  file), the edits survive and files the owner did not touch get no conflict markers.

Then the migrations in `hooks/`: an update across the release that renamed the cache's
settings rewrites `.env` with `--trust`, and refuses without it.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import plumbum
import pytest
from copier.errors import UnsafeTemplateError
from harness import GIT_IDENTITY, MEMORY_MODES, OPTIONS, TEMPLATE_ROOT, copy_template_tree, git

pytestmark = pytest.mark.slow

CHANGELOG = TEMPLATE_ROOT / "CHANGELOG.md"
MARKER = "<<<<<<< before updating"


@dataclass(frozen=True)
class Release:
    version: str
    commit: str

    @property
    def number(self) -> tuple[int, ...]:
        return tuple(map(int, self.version.split(".")))


def listed_releases(text: str) -> list[Release]:
    """The releases CHANGELOG.md lists, oldest first, each with the commit it was cut from."""
    releases = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = re.match(r"\[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}\n", section)
        if not heading:
            assert section.startswith("[Unreleased]"), f"not a release heading: {section[:40]!r}"
            continue
        commit = re.search(r"^Commit: `([0-9a-f]{40})`$", section, flags=re.MULTILINE)
        assert commit, f"release {heading.group(1)} names no commit (`Commit: `<40 hex>``)"
        assert "### Upgrading" in section, f"release {heading.group(1)} has no Upgrading notes"
        releases.append(Release(heading.group(1), commit.group(1)))
    return sorted(releases, key=lambda release: release.number)


RELEASES = listed_releases(CHANGELOG.read_text())


def test_the_changelog_lists_releases_newest_first_with_distinct_commits() -> None:
    assert RELEASES, "CHANGELOG.md lists no release"
    text = CHANGELOG.read_text()
    order = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", text, flags=re.MULTILINE)
    assert order == [release.version for release in reversed(RELEASES)]
    assert len({release.commit for release in RELEASES}) == len(RELEASES)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this repository with each release tagged, and the working tree committed
    on top (the release being prepared). Returns the clone and that commit."""
    root = tmp_path_factory.mktemp("releases")
    repo = root / "template"
    cloned = subprocess.run(
        ["git", "clone", "-q", "--no-local", "--no-tags", str(TEMPLATE_ROOT), str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cloned.returncode == 0, cloned.stderr
    for release in RELEASES:
        exists = subprocess.run(
            ["git", "cat-file", "-e", f"{release.commit}^{{commit}}"], cwd=repo, check=False
        )
        assert exists.returncode == 0, (
            f"release {release.version}'s commit {release.commit} is not in this clone "
            "(a shallow clone? fetch the whole history)"
        )
        git(repo, "tag", f"v{release.version}", release.commit)
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    working = copy_template_tree(root / "working-tree")
    shutil.copytree(working, repo, dirs_exist_ok=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "working tree")
    return repo, git(repo, "rev-parse", "HEAD").strip()


def _data(mode: str) -> dict[str, Any]:
    return {"memory_mode": mode, **{option: True for option in OPTIONS}}


def _copy(repo: Path, project: Path, data: dict[str, Any], ref: str) -> None:
    copier.run_copy(
        str(repo), project, data=data, defaults=True, unsafe=False, quiet=True, vcs_ref=ref,
        settings=copier.Settings(),
    )


def _update(project: Path, ref: str, *, trust: bool = True) -> None:
    copier.run_update(
        project, defaults=True, overwrite=True, unsafe=trust, quiet=True, vcs_ref=ref,
        conflict="inline", settings=copier.Settings(),
    )


def _commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", message)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def _owner_edits(project: Path, slug: str) -> dict[str, str]:
    """The edits an owner makes after rendering; returns each edited file and its new text."""
    edits: dict[str, str] = {}
    routes = project / slug / "extra_routes.py"
    routes.write_text(
        '"""A route the owner added."""\n\nfrom fastapi import APIRouter\n\n'
        'router = APIRouter()\n\n\n@router.get("/hello")\nasync def hello() -> dict[str, str]:\n'
        '    return {"hello": "world"}\n'
    )
    edits[f"{slug}/extra_routes.py"] = "async def hello()"
    main = project / slug / "main.py"
    text = main.read_text()
    anchor = "from .settings import Settings, get_settings\n"
    assert anchor in text
    main.write_text(text.replace(anchor, anchor + "from .extra_routes import router as extra\n"))
    edits[f"{slug}/main.py"] = "from .extra_routes import router as extra"
    settings = project / slug / "ingest" / "settings.py"
    text = settings.read_text()
    changed = re.sub(r"(job_concurrency: int = Field\()\d+", r"\g<1>16", text, count=1)
    assert changed != text, "no job_concurrency default to change"
    settings.write_text(changed)
    edits[f"{slug}/ingest/settings.py"] = "job_concurrency: int = Field(16"
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our deployment\n\nRuns on the team's cluster.\n")
    edits["README.md"] = "## Our deployment"
    test = project / "tests" / "test_owner.py"
    test.write_text("def test_owner_rule() -> None:\n    assert 'owner'\n")
    edits["tests/test_owner.py"] = "def test_owner_rule()"
    return edits


CASES = [
    pytest.param(release, mode, id=f"{release.version}-{mode}")
    for release in RELEASES
    for mode in MEMORY_MODES
]


@pytest.mark.parametrize(("release", "mode"), CASES)
def test_a_release_updates_to_the_working_tree(
    release: Release, mode: str, template_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, head = template_repo
    data = _data(mode)
    with plumbum.local.env(**GIT_IDENTITY, GIT_CONFIG_NOSYSTEM="1"):
        fresh = tmp_path / "fresh"
        _copy(repo, fresh, data, head)

        plain = tmp_path / "plain"
        _copy(repo, plain, data, f"v{release.version}")
        git(plain, "init", "-q", "-b", "main")
        _commit_all(plain, f"rendered from {release.version}")
        _update(plain, head)
        assert _files(plain) == _files(fresh), (
            "an update without edits differs from a fresh render in: "
            f"{sorted(set(_files(plain).items()) ^ set(_files(fresh).items()))[:10]}"
        )

        edited = tmp_path / "edited"
        _copy(repo, edited, data, f"v{release.version}")
        slug = next(path.parent.name for path in edited.glob("*/__init__.py"))
        git(edited, "init", "-q", "-b", "main")
        _commit_all(edited, f"rendered from {release.version}")
        edits = _owner_edits(edited, slug)
        _commit_all(edited, "the owner's edits")
        _update(edited, head)

    for name, text in edits.items():
        assert text in (edited / name).read_text(), f"the owner's edit to {name} was lost"
    marked = sorted(
        name
        for name, content in _files(edited).items()
        if name not in edits and MARKER.encode() in content
    )
    assert marked == [], f"conflict markers in files the owner did not touch: {marked}"


def _release_with_migration() -> Release:
    """The release whose migration renames the cache settings (copier.yml's _migrations)."""
    return next(release for release in RELEASES if release.version == "0.2.0")


def test_an_update_across_a_rename_rewrites_env_with_trust_and_refuses_without(
    template_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, head = template_repo
    before = [release for release in RELEASES if release.number < _release_with_migration().number]
    assert before, "no release before the one with the migration"
    env_text = (
        "JWT_SECRET=kept-as-it-is-kept-as-it-is-kept-as-it-is\n"
        "MEMORY_CACHE_TTL_SECONDS=42  # tuned for our traffic\n"
        "export MEMORY_CACHE_MAX_ENTRIES=500\n"
        "# MEMORY_CACHE_TTL_SECONDS=300\n"
    )
    with plumbum.local.env(**GIT_IDENTITY, GIT_CONFIG_NOSYSTEM="1"):
        project = tmp_path / "project"
        _copy(repo, project, _data("qdrant"), f"v{before[-1].version}")
        git(project, "init", "-q", "-b", "main")
        _commit_all(project, "rendered")
        env_file = project / ".env"  # git-ignored: Copier never sees it
        env_file.write_text(env_text)
        env_file.chmod(0o600)

        with pytest.raises(UnsafeTemplateError):
            _update(project, head, trust=False)
        assert env_file.read_text() == env_text
        git(project, "checkout", "-q", "--", ".")  # a refused update leaves nothing behind
        git(project, "clean", "-q", "-fd")

        _update(project, head, trust=True)

    assert env_file.read_text() == (
        "JWT_SECRET=kept-as-it-is-kept-as-it-is-kept-as-it-is\n"
        "SEARCH_CACHE_TTL_SECONDS=42  # tuned for our traffic\n"
        "export SEARCH_CACHE_MAX_ENTRIES=500\n"
        "# SEARCH_CACHE_TTL_SECONDS=300\n"
    )
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "SEARCH_CACHE_TTL_SECONDS=300" in (project / ".env.example").read_text()


def test_an_update_from_the_release_with_the_migration_needs_no_trust(
    template_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, head = template_repo
    release = _release_with_migration()
    with plumbum.local.env(**GIT_IDENTITY, GIT_CONFIG_NOSYSTEM="1"):
        project = tmp_path / "project"
        _copy(repo, project, _data("qdrant"), f"v{release.version}")
        git(project, "init", "-q", "-b", "main")
        _commit_all(project, "rendered")
        _update(project, head, trust=False)  # no migration in range: no --trust
