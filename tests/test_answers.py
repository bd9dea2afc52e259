"""How answers change the render: the slug, the model provider, and the validators."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from harness import ANSWERS_FILE, MATRIX, RENDERS, Rendered

RenderFn = Callable[[dict[str, Any]], Rendered]

# memory_mode choices that copier.yml lists but this release must refuse (none today). When a
# mode ships, move it to SHIPPED_MODES (conftest.MEMORY_MODES puts it in the render matrix).
SHIPPED_MODES = ["qdrant", "chroma", "pinecone", "hosted"]
SELF_HOSTED = {"qdrant", "chroma", "pinecone"}

# Files that only some modes render (paths relative to the project).
MODE_FILES = {
    "tests/test_scaled.py": {"chroma", "pinecone", "hosted"},
    "tests/chroma_server.py": {"chroma"},
    "tests/fakes/pinecone_server.py": {"pinecone"},
    "tests/test_fake_pinecone.py": {"pinecone"},
    "tests/test_pinecone_consistency.py": {"pinecone"},
    "tests/fakes/mem0_platform.py": {"hosted"},
    "tests/test_fake_mem0_platform.py": {"hosted"},
    "tests/test_platform_failure.py": {"hosted"},
    "tests/store.py": SELF_HOSTED,
    "tests/test_provider_failure.py": SELF_HOSTED,
    "tests/test_readiness.py": SELF_HOSTED,
}

# What each memory mode, and only that mode, brings into a render:
# - env: its settings, as variable names in .env.example (and, lowercased, in settings.py);
# - deps: its distributions in pyproject.toml's [project] dependencies;
# - words: strings that must not appear in any file of another mode's render
#   (case-insensitive; .copier-answers.yml, which lists the choice, aside).
MODE_MARKERS: dict[str, dict[str, list[str]]] = {
    "qdrant": {"env": ["QDRANT_URL", "QDRANT_API_KEY", "QDRANT_COLLECTION"], "deps": ["qdrant-client"],
               "words": ["qdrant"]},
    "chroma": {"env": ["CHROMA_HOST", "CHROMA_PORT", "CHROMA_COLLECTION"], "deps": ["chromadb"],
               "words": ["chroma"]},
    "pinecone": {"env": ["PINECONE_API_KEY", "PINECONE_INDEX", "PINECONE_HOST"], "deps": ["pinecone"],
                 "words": ["pinecone"]},
    "hosted": {"env": ["MEM0_API_KEY", "MEM0_HOST"], "deps": [],
               "words": ["MEM0_API_KEY", "AsyncMemoryClient", "Mem0 Platform"]},
}
# What each yes/no option brings (its settings in .env.example, its dependencies); a render has
# them exactly when one of the listed options is on. REDIS_URL serves both the cache and the
# rate limits (the redis client itself is in every render: the Redis job queue needs it).
OPTION_MARKERS: dict[str, dict[str, Any]] = {
    "include_cache": {"env": ["SEARCH_CACHE_TTL_SECONDS", "SEARCH_CACHE_MAX_ENTRIES"], "deps": []},
    "include_rate_limit": {
        "env": ["RATE_LIMIT_SEARCH", "RATE_LIMIT_WRITES", "RATE_LIMIT_READS"],
        "deps": ["limits"],
    },
    "include_cache|include_rate_limit": {"env": ["REDIS_URL"], "deps": []},
}
# The model provider's settings and dependency: every self-hosted mode has them, hosted none.
MODEL_PROVIDER_ENV = ["OPENAI_", "OLLAMA_"]
MODEL_PROVIDER_DEPS = ["openai"]

def test_project_name_derives_slug(render: RenderFn) -> None:
    project = render(RENDERS["acme"])
    assert project.answers["project_slug"] == "acme_recall"
    package = project.path / "acme_recall"
    assert (package / "__init__.py").is_file()
    assert (package / "memory" / "service.py").is_file()
    assert not (project.path / "memory_service").exists()
    assert 'NAME = "Acme Recall"' in (package / "__init__.py").read_text()
    assert "acme_recall" in (project.path / "pyproject.toml").read_text()


def test_explicit_slug_names_the_package(render: RenderFn) -> None:
    project = render({"project_name": "Acme Recall", "project_slug": "recall_api"})
    assert (project.path / "recall_api" / "main.py").is_file()
    assert not (project.path / "acme_recall").exists()


def test_default_model_provider_is_openai(default_project: Rendered) -> None:
    assert default_project.answers["model_provider"] == "openai"
    settings = (default_project.path / default_project.slug / "memory" / "models.py").read_text()
    assert "openai_api_key" in settings
    assert "ollama_base_url" not in settings


def test_ollama_provider(render: RenderFn) -> None:
    project = render(RENDERS["ollama"])
    assert project.answers["model_provider"] == "ollama"
    package = project.path / project.slug
    models = (package / "memory" / "models.py").read_text()
    assert "ollama_base_url" in models
    assert "openai_api_key" not in models
    assert "mem0_model_config(" in (package / "memory" / "backend.py").read_text()


def test_every_mode_offered_is_shipped() -> None:
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "copier.yml").read_text())
    choices = set(config["memory_mode"]["choices"].values())
    assert choices == set(SHIPPED_MODES)
    assert set(MODE_MARKERS) == set(SHIPPED_MODES)


def _mode_renders(mode: str, render: RenderFn) -> list[tuple[str, Rendered]]:
    """Every matrix combination of `mode` (the options must not change what the mode renders)."""
    return [(name, render(data)) for name, data in MATRIX.items() if data["memory_mode"] == mode]


def _dependencies(project: Rendered) -> set[str]:
    with (project.path / "pyproject.toml").open("rb") as handle:
        pyproject = tomllib.load(handle)
    return {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in pyproject["project"]["dependencies"]
    }


def _settings_text(project: Rendered) -> str:
    """The package's code: each part declares its settings in its own module."""
    package = project.path / project.slug
    return "\n".join(path.read_text() for path in sorted(package.rglob("*.py")))


def _text_files(project: Rendered) -> list[tuple[str, str]]:
    files = []
    for path in project.files():
        rel = path.relative_to(project.path).as_posix()
        if rel == ANSWERS_FILE:
            continue
        try:
            files.append((rel, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    return files


@pytest.mark.parametrize("mode", SHIPPED_MODES)
def test_memory_mode_files(mode: str, render: RenderFn) -> None:
    for name, project in _mode_renders(mode, render):
        assert project.answers["memory_mode"] == mode
        assert (project.path / project.slug / "memory" / "backend.py").is_file()
        for path, modes in MODE_FILES.items():
            exists = (project.path / path).exists()
            verb = "is" if exists else "is not"
            assert exists == (mode in modes), f"{path} {verb} rendered in {name}"


@pytest.mark.parametrize("mode", SHIPPED_MODES)
def test_memory_mode_brings_only_its_own_settings_and_dependencies(mode: str, render: RenderFn) -> None:
    own = MODE_MARKERS[mode]
    others = {other: markers for other, markers in MODE_MARKERS.items() if other != mode}
    problems = []
    for name, project in _mode_renders(mode, render):
        env_example = (project.path / ".env.example").read_text()
        settings = _settings_text(project)
        dependencies = _dependencies(project)
        for variable in own["env"]:
            if variable not in env_example:
                problems.append(f"{name}: .env.example does not document {variable}")
            if variable.lower() not in settings:
                problems.append(f"{name}: the package has no {variable.lower()} setting")
        problems += [
            f"{name}: pyproject.toml does not depend on {dep}"
            for dep in own["deps"]
            if dep not in dependencies
        ]
        for other, markers in others.items():
            problems += [
                f"{name}: pyproject.toml depends on {dep} ({other} mode)"
                for dep in markers["deps"]
                if dep in dependencies
            ]
            for rel, text in _text_files(project):
                for marker in [*markers["env"], *markers["words"]]:
                    if marker.lower() in text.lower():
                        problems.append(f"{name}: {rel} mentions {marker!r} ({other} mode)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mode", SHIPPED_MODES)
def test_model_provider_only_for_self_hosted_modes(mode: str, render: RenderFn) -> None:
    problems = []
    for name, project in _mode_renders(mode, render):
        answers = project.answers
        files = {
            rel: (project.path / rel).read_text()
            for rel in [".env.example", f"{project.slug}/settings.py", "README.md",
                        f"{project.slug}/memory/backend.py"]
        }
        dependencies = _dependencies(project)
        if mode in SELF_HOSTED:
            if answers.get("model_provider") != "openai":
                provider = answers.get("model_provider")
                problems.append(f"{name}: model_provider is {provider!r} in the answers")
            problems += [f"{name}: no OPENAI_API_KEY in {rel}" for rel in [".env.example", "README.md"]
                         if "OPENAI_API_KEY" not in files[rel]]
            problems += [
                f"{name}: no {dep} dependency" for dep in MODEL_PROVIDER_DEPS if dep not in dependencies
            ]
        else:
            if "model_provider" in answers:
                problems.append(f"{name}: the answers file records model_provider")
            problems += [
                f"{name}: {rel} mentions {prefix}"
                for rel, text in files.items()
                for prefix in MODEL_PROVIDER_ENV
                if prefix in text or prefix.lower() in text
            ]
            # The chat example's model client (CHAT_* settings), not a provider for Mem0.
            allowed = {"openai"} if answers["include_examples"] else set()
            problems += [
                f"{name}: depends on {dep}"
                for dep in MODEL_PROVIDER_DEPS
                if dep in dependencies and dep not in allowed
            ]
    assert not problems, "\n".join(problems)


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


def _refused(template_snapshot: Path, dst: Path, data: dict[str, Any]) -> str:
    """Copier's message for answers it refuses, after checking that nothing was rendered.

    Copier raises a plain ValueError ("Validation error for question '<name>': <message>",
    or "Invalid choice for '<name>'") when an answer given with `data=` is refused in a
    non-interactive run."""
    with pytest.raises(ValueError, match="Validation error for question|Invalid choice") as caught:
        copier.run_copy(
            str(template_snapshot),
            dst,
            data=data,
            defaults=True,
            unsafe=False,
            quiet=True,
            settings=copier.Settings(),
        )
    assert not dst.exists() or not any(dst.iterdir()), "a rejected answer still rendered files"
    return str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"project_slug": "1bad-name"}, "not a valid Python package name", id="digit-dash"),
        pytest.param({"project_slug": "Bad"}, "not a valid Python package name", id="uppercase"),
        pytest.param({"project_slug": "class"}, "is a Python keyword", id="keyword"),
        pytest.param({"project_slug": "mem0"}, "would shadow a module", id="shadows-dependency"),
        pytest.param({"project_name": "   "}, "project name cannot be empty", id="empty-name"),
        pytest.param({"project_slug": "a" * 33}, "keep the package name to 32", id="long-slug"),
        pytest.param({"project_name": "N" * 61}, "keep it to 60 or fewer", id="long-name"),
        pytest.param({"author_email": "nobody"}, "does not look like an email address", id="email"),
    ],
)
def test_validators_reject(
    data: dict[str, Any], message: str, template_snapshot: Path, tmp_path: Path
) -> None:
    refusal = _refused(template_snapshot, tmp_path / "render", data)
    assert f"Validation error for question '{next(iter(data))}'" in refusal
    assert message in refusal


@pytest.mark.parametrize(
    ("question", "answer"), [("memory_mode", "weaviate"), ("license", "GPL-3.0")]
)
def test_an_answer_outside_the_choices_is_refused(
    question: str, answer: str, template_snapshot: Path, tmp_path: Path
) -> None:
    refusal = _refused(template_snapshot, tmp_path / "render", {question: answer})
    assert f"Invalid choice for '{question}'" in refusal


@pytest.mark.parametrize("options", list(OPTION_MARKERS))
def test_options_bring_their_settings_and_dependencies(options: str, render: RenderFn) -> None:
    markers = OPTION_MARKERS[options]
    problems = []
    for name, data in MATRIX.items():
        project = render(data)
        wanted = any(data[option] for option in options.split("|"))
        env_example = (project.path / ".env.example").read_text()
        settings = _settings_text(project)
        dependencies = _dependencies(project)
        for variable in markers["env"]:
            for where, text, marker in [(".env.example", env_example, variable),
                                        ("the package", settings, variable.lower())]:
                if (marker in text) != wanted:
                    problems.append(f"{name}: {where} {'lacks' if wanted else 'has'} {marker}")
        for dep in markers["deps"]:
            if (dep in dependencies) != wanted:
                problems.append(f"{name}: pyproject.toml {'lacks' if wanted else 'has'} {dep}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("license_id", "first_line", "copyright_line", "spdx"),
    [
        ("MIT", "MIT License", "Copyright (c) 2031 Zoë Maintainer", "MIT"),
        ("Apache-2.0", "Apache License", "Copyright 2031 Zoë Maintainer", "Apache-2.0"),
        ("BSD-3-Clause", "BSD 3-Clause License", "Copyright (c) 2031, Zoë Maintainer", "BSD-3-Clause"),
        (
            "Proprietary",
            "Copyright (c) 2031 Zoë Maintainer. All rights reserved.",
            "Copyright (c) 2031 Zoë Maintainer. All rights reserved.",
            "LicenseRef-Proprietary",
        ),
    ],
)
def test_license_question_writes_license_and_spdx(
    render: RenderFn, license_id: str, first_line: str, copyright_line: str, spdx: str
) -> None:
    project = render(
        {"license": license_id, "copyright_year": "2031", "author_name": "Zoë Maintainer"}
    ).path
    text = (project / "LICENSE").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == first_line
    assert copyright_line in lines
    assert text.endswith("\n") and not text.endswith("\n\n")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["license"] == spdx
    assert pyproject["license-files"] == ["LICENSE"]
    private = "Private :: Do Not Upload" in pyproject.get("classifiers", [])
    assert private == (license_id == "Proprietary")
    assert f'license = "{spdx}"' in (project / "README.md").read_text()


def test_the_copyright_year_defaults_to_this_year_and_is_recorded(default_project: Rendered) -> None:
    import datetime

    answers = yaml.safe_load((default_project.path / ANSWERS_FILE).read_text())
    assert answers["license"] == "MIT"
    assert answers["copyright_year"] == str(datetime.date.today().year)


@pytest.mark.parametrize("year", ["soon", "26", "2026-", "2024-26", "2024 - 2026", "c2026"])
def test_the_copyright_year_must_be_a_year_or_a_range(
    year: str, template_snapshot: Path, tmp_path: Path
) -> None:
    refusal = _refused(template_snapshot, tmp_path / "render", {"copyright_year": year})
    assert "Validation error for question 'copyright_year'" in refusal
    assert f'"{year}" is not a year' in refusal


def test_a_year_range_is_accepted(render: RenderFn) -> None:
    project = render({"copyright_year": "2024-2026", "license": "BSD-3-Clause"}).path
    assert "Copyright (c) 2024-2026, Your Name" in (project / "LICENSE").read_text()
