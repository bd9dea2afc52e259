"""How answers change the render: the slug, the model provider, and the validators."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import MATRIX, RENDERS, Rendered, all_options

RenderFn = Callable[[dict[str, Any]], Rendered]

# memory_mode choices that copier.yml lists but this release must refuse. When a mode ships,
# move it to SHIPPED_MODES and add a render of it to RENDERS in conftest.py.
UNSHIPPED_MODES = ["hosted"]
SHIPPED_MODES = ["qdrant", "chroma", "pinecone"]

# Files that only some modes render (paths relative to the project).
MODE_FILES = {
    "compose.yaml": {"qdrant", "chroma"},
    "tests/chroma_server.py": {"chroma"},
    "tests/fakes/pinecone_server.py": {"pinecone"},
    "tests/test_fake_pinecone.py": {"pinecone"},
}


def test_project_name_derives_slug(render: RenderFn) -> None:
    project = render(RENDERS["acme"])
    assert project.answers["project_slug"] == "acme_recall"
    package = project.path / "acme_recall"
    assert (package / "__init__.py").is_file()
    assert (package / "memory" / "service.py").is_file()
    assert not (project.path / "memory_service").exists()
    assert '"Acme Recall"' in (package / "settings.py").read_text()
    assert "acme_recall" in (project.path / "pyproject.toml").read_text()


def test_explicit_slug_names_the_package(render: RenderFn) -> None:
    project = render({"project_name": "Acme Recall", "project_slug": "recall_api"})
    assert (project.path / "recall_api" / "main.py").is_file()
    assert not (project.path / "acme_recall").exists()


def test_default_model_provider_is_openai(default_project: Rendered) -> None:
    assert default_project.answers["model_provider"] == "openai"
    settings = (default_project.path / default_project.slug / "settings.py").read_text()
    assert "openai_api_key" in settings
    assert "ollama_base_url" not in settings


def test_ollama_provider(render: RenderFn) -> None:
    project = render(RENDERS["ollama"])
    assert project.answers["model_provider"] == "ollama"
    package = project.path / project.slug
    settings = (package / "settings.py").read_text()
    assert "ollama_base_url" in settings
    assert "openai_api_key" not in settings
    assert "ollama_base_url" in (package / "memory" / "backend.py").read_text()


@pytest.mark.parametrize("mode", SHIPPED_MODES)
def test_memory_mode_files(mode: str, render: RenderFn) -> None:
    project = render(MATRIX[all_options(mode, False)])
    assert project.answers["memory_mode"] == mode
    assert (project.path / project.slug / "memory" / "backend.py").is_file()
    for name, modes in MODE_FILES.items():
        exists = (project.path / name).exists()
        assert exists == (mode in modes), f"{name} {'is' if exists else 'is not'} rendered for {mode}"


@pytest.mark.parametrize(
    ("version", "matrix"),
    [("3.11", ["3.11", "3.12", "3.13"]), ("3.13", ["3.13"])],
)
def test_python_version(version: str, matrix: list[str], render: RenderFn) -> None:
    project = render(RENDERS["default"] if version == "3.11" else RENDERS["py313"])
    with (project.path / "pyproject.toml").open("rb") as handle:
        pyproject = tomllib.load(handle)
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert f"FROM python:{version}-slim" in (project.path / "Dockerfile").read_text()
    workflow = yaml.safe_load((project.path / ".github" / "workflows" / "ci.yml").read_text())
    versions = [
        job["strategy"]["matrix"]["python-version"]
        for job in workflow["jobs"].values()
        if "python-version" in job.get("strategy", {}).get("matrix", {})
    ]
    assert versions == [matrix], f"CI matrix for python_version={version}: {versions}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"project_slug": "1bad-name"}, "not a valid Python package name", id="digit-dash"),
        pytest.param({"project_slug": "Bad"}, "not a valid Python package name", id="uppercase"),
        pytest.param({"project_slug": "class"}, "is a Python keyword", id="keyword"),
        pytest.param({"project_slug": "mem0"}, "would shadow a module", id="shadows-dependency"),
        pytest.param({"project_name": "   "}, "project name cannot be empty", id="empty-name"),
        pytest.param({"author_email": "nobody"}, "does not look like an email address", id="email"),
        *[
            pytest.param({"memory_mode": mode}, "not available in this version", id=mode)
            for mode in UNSHIPPED_MODES
        ],
    ],
)
def test_validators_reject(
    data: dict[str, Any], message: str, template_snapshot: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "render"
    # Copier raises a plain ValueError ("Validation error for question '<name>': <message>")
    # when an answer given with `data=` fails its validator in a non-interactive run.
    with pytest.raises(ValueError, match="Validation error for question") as caught:
        copier.run_copy(
            str(template_snapshot),
            dst,
            data=data,
            defaults=True,
            unsafe=False,
            quiet=True,
            settings=copier.Settings(),
        )
    question = next(iter(data))
    assert f"question '{question}'" in str(caught.value)
    assert message in str(caught.value)
    assert not dst.exists() or not any(dst.iterdir()), "a rejected answer still rendered files"


def test_unknown_memory_mode_is_not_a_choice(template_snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid choice for 'memory_mode'"):
        copier.run_copy(
            str(template_snapshot),
            tmp_path / "render",
            data={"memory_mode": "weaviate"},
            defaults=True,
            unsafe=False,
            quiet=True,
            settings=copier.Settings(),
        )
