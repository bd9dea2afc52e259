"""`copier update`: a user's edits survive, answer changes and template upgrades arrive."""

from __future__ import annotations

from pathlib import Path

import copier
import plumbum
import pytest
import yaml
from harness import GIT_IDENTITY, copy_template_tree, git, run_tool, tail

# The synthetic template repository's own releases. They sort above every real release, so the
# real migrations (hooks/, run for updates that cross their version) stay out of these tests:
# test_releases.py and test_hooks.py cover those.
BASE, NEXT = "v99.0.0", "v99.1.0"
TEMPLATE_CHANGE = "Template release 99.1.0 added this line."
USER_EDIT = "# A local change the project's owner made after rendering."


def _commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", message)


def _init_repo(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")


def _template_release(tmp_path: Path) -> Path:
    """Today's template working tree as a git repository tagged BASE."""
    template = copy_template_tree(tmp_path / "template-repo")
    _init_repo(template)
    _commit_all(template, "template 99.0.0")
    git(template, "tag", BASE)
    return template


def _copy(template: Path, project: Path, data: dict[str, bool] | None = None) -> None:
    copier.run_copy(
        str(template),
        project,
        data=data or {},
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref=BASE,
        settings=copier.Settings(),
    )


def _update(project: Path, data: dict[str, object], vcs_ref: str) -> None:
    copier.run_update(
        project,
        data=data,
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        vcs_ref=vcs_ref,
        settings=copier.Settings(),
    )


def test_update_keeps_edits_and_applies_changes(tmp_path: Path) -> None:
    # A template repository with release BASE: today's working tree, committed.
    template = _template_release(tmp_path)

    # copier runs git itself (to compute the update); plumbum snapshots the environment at
    # import time, so the identity for its commits is given through plumbum, not os.environ.
    with plumbum.local.env(**GIT_IDENTITY, GIT_CONFIG_NOSYSTEM="1"):
        project = tmp_path / "project"
        _copy(template, project)
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert answers["_commit"] == BASE
        assert answers["model_provider"] == "openai"
        slug = answers["project_slug"]
        _init_repo(project)
        _commit_all(project, "render from template 99.0.0")

        # The owner edits a service file.
        service = project / slug / "memory" / "service.py"
        service.write_text(service.read_text() + USER_EDIT + "\n")
        _commit_all(project, "local edit")

        # The template ships NEXT.
        readme = template / "template" / "README.md.jinja"
        with readme.open("a") as handle:
            handle.write(f"\n{TEMPLATE_CHANGE}\n")
        _commit_all(template, "template 99.1.0")
        git(template, "tag", NEXT)

        _update(project, {"model_provider": "ollama"}, NEXT)

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == NEXT
    assert answers["model_provider"] == "ollama"
    assert USER_EDIT in service.read_text(), "the owner's edit was lost in the update"
    assert TEMPLATE_CHANGE in (project / "README.md").read_text(), "the template change did not arrive"
    models = (project / slug / "memory" / "models.py").read_text()
    assert "ollama_base_url" in models
    assert "openai_api_key" not in models
    conflicts = sorted(
        str(path.relative_to(project))
        for path in project.rglob("*")
        if ".git" not in path.relative_to(project).parts
        and path.is_file()
        and (path.suffix == ".rej" or "\n<<<<<<< " in "\n" + path.read_text(errors="replace"))
    )
    assert not conflicts, f"the update left conflicts in: {conflicts}"


OPTION_FILES = {
    "include_cache": ["{slug}/memory/cache/feature.py", "tests/test_cache.py"],
    "include_rate_limit": ["{slug}/ratelimit/feature.py", "tests/test_rate_limit.py"],
}
# The cache has no dependency of its own: the redis client is in every render (the job queue).
OPTION_DEPENDENCIES = {"include_rate_limit": "limits>="}


def _assert_options(project: Path, slug: str, on: bool) -> None:
    pyproject = (project / "pyproject.toml").read_text()
    for option, files in OPTION_FILES.items():
        for pattern in files:
            path = project / pattern.format(slug=slug)
            assert path.exists() == on, f"{path.name} {'missing' if on else 'left behind'}"
        if option in OPTION_DEPENDENCIES:
            assert (OPTION_DEPENDENCIES[option] in pyproject) == on, f"{option} dependency"


def _suite_passes(project: Path) -> None:
    # Without the durability tests (kill -9, outages, real process topologies): they do not
    # depend on the options and run once per mode in test_generated_project.py.
    suite = ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not durability"]
    for cmd in (["uv", "sync"], suite):
        result = run_tool(cmd, project)
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{tail(result.stdout + result.stderr)}"


@pytest.mark.slow
def test_update_turns_options_on_and_off(tmp_path: Path) -> None:
    """Options toggled through `copier update` add and remove their files and dependencies."""
    template = _template_release(tmp_path)
    options_on = dict.fromkeys(OPTION_FILES, True)
    options_off = dict.fromkeys(OPTION_FILES, False)

    with plumbum.local.env(**GIT_IDENTITY, GIT_CONFIG_NOSYSTEM="1"):
        project = tmp_path / "project"
        _copy(template, project, options_off)
        slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
        _init_repo(project)
        _commit_all(project, "render without options")
        _assert_options(project, slug, on=False)

        for data, on in ((options_on, True), (options_off, False)):
            _update(project, dict(data), BASE)
            _assert_options(project, slug, on=on)
            _suite_passes(project)
            _commit_all(project, f"options {'on' if on else 'off'}")
