"""Static checks of rendered projects: the tree, leftover Jinja, parseable config, scripts."""

from __future__ import annotations

import re
import stat
import subprocess
import tomllib
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from harness import MATRIX, RENDERS, TEMPLATE_ROOT, Rendered

EXPECTED_FILES = [
    ".copier-answers.yml",
    "pyproject.toml",
    "README.md",
    ".env.example",
    "Dockerfile",
    ".github/workflows/ci.yml",
    "scripts/setup-mem0.sh",
    "scripts/test-memory.sh",
    "{slug}/__init__.py",
    "{slug}/main.py",
    "{slug}/settings.py",
    "{slug}/auth.py",
    "{slug}/health.py",
    "{slug}/memory/__init__.py",
    "{slug}/memory/router.py",
    "{slug}/memory/schemas.py",
    "{slug}/memory/service.py",
    "{slug}/memory/backend.py",
    "tests/conftest.py",
    "tests/fakes/model_server.py",
    "tests/redis_server.py",
    "compose.yaml",
]

# Files the yes/no options render: each path exists exactly when one of its options is on.
OPTION_FILES = {
    "{slug}/memory/cache/feature.py": {"include_cache"},
    "tests/test_cache.py": {"include_cache"},
    "{slug}/ratelimit/feature.py": {"include_rate_limit"},
    "tests/test_rate_limit.py": {"include_rate_limit"},
    "{slug}/chat": {"include_examples"},
    "examples": {"include_examples"},
    "tests/test_examples.py": {"include_examples"},
}
ABSENT_BY_DEFAULT = list(OPTION_FILES)

# Leftover Jinja. Statement and comment delimiters never belong in a rendered file
# (`${#var}` is bash, not a Jinja comment). Bare `{{`/`}}` do: Python f-strings escape braces
# as `{{name}}` and nested dict literals end in `}}`. So an expression counts as leftover
# when it names one of the template's variables or pipes through a filter, which is what a
# file that missed its `.jinja` suffix, or a broken `{% raw %}`, leaves behind.
JINJA_STATEMENT = re.compile(r"\{%|%\}")
JINJA_COMMENT = re.compile(r"(?<!\$)\{#|#\}")
JINJA_EXPRESSION = re.compile(r"\{\{(?P<body>[^{}]*)\}\}")
FILTER_PIPE = re.compile(r"\|\s*-?[A-Za-z_]\w*\s*(\(|$)")
COPIER_VARIABLES = {"_copier_conf", "_copier_answers", "_copier_python", "_copier_operation",
                    "_folder_name", "_src_path", "_commit"}
# GitHub Actions expressions look like Jinja but are legitimate in workflow files.
ACTIONS_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def _template_variables() -> set[str]:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    return {name for name in config if not name.startswith("_")} | COPIER_VARIABLES


def _is_jinja_expression(body: str, variables: set[str]) -> bool:
    words = set(re.findall(r"[A-Za-z_]\w*", body))
    return bool(words & variables) or bool(FILTER_PIPE.search(body.strip()))


def leftover_jinja(line: str, variables: set[str]) -> bool:
    if JINJA_STATEMENT.search(line) or JINJA_COMMENT.search(line):
        return True
    return any(
        _is_jinja_expression(match["body"], variables) for match in JINJA_EXPRESSION.finditer(line)
    )

STATIC_RENDERS = list(RENDERS)


@pytest.fixture(scope="module", params=STATIC_RENDERS)
def project(request: pytest.FixtureRequest, render: Callable[[dict[str, Any]], Rendered]) -> Rendered:
    return render(RENDERS[request.param])


def _text(path: Any) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # binary file


def test_default_tree(default_project: Rendered) -> None:
    slug = default_project.slug
    assert slug == "memory_service"
    missing = [
        name.format(slug=slug)
        for name in EXPECTED_FILES
        if not (default_project.path / name.format(slug=slug)).is_file()
    ]
    assert not missing, f"files missing from the default render: {missing}"
    present = [
        name.format(slug=slug)
        for name in ABSENT_BY_DEFAULT
        if (default_project.path / name.format(slug=slug)).exists()
    ]
    assert not present, f"files of options that are off were rendered: {present}"


@pytest.mark.parametrize("name", list(MATRIX))
def test_option_files(name: str, render: Callable[[dict[str, Any]], Rendered]) -> None:
    project = render(MATRIX[name])
    answers = MATRIX[name]
    wrong = []
    for path, options in OPTION_FILES.items():
        exists = (project.path / path.format(slug=project.slug)).exists()
        if exists != any(answers[option] for option in options):
            wrong.append(f"{path} {'is' if exists else 'is not'} rendered")
    assert not wrong, f"{name}: " + "; ".join(wrong)


def test_no_template_files_leak(project: Rendered) -> None:
    leaked = [
        str(path.relative_to(project.path))
        for path in project.files()
        if path.suffix == ".jinja" or "{{" in str(path) or "}}" in str(path)
    ]
    assert not leaked, f"unrendered template files or names: {leaked}"


def test_leftover_jinja_detector() -> None:
    variables = _template_variables()
    for leftover in [
        "from {{ project_slug }}.main import create_app",
        'name = "{{project_name|lower}}"',
        "{% if include_cache %}",
        "x = 1  {# a Jinja comment #}",
        "{%- endif %}",
        "{{ something | tojson }}",
    ]:
        assert leftover_jinja(leftover, variables), leftover
    for legitimate in [
        'f"{API}/memories/{{memory_id}}"',
        'config = {"llm": {"provider": "openai"}}',
        'echo "${#SECRET}"',
        "printf '%s' \"$x\"",
    ]:
        assert not leftover_jinja(legitimate, variables), legitimate


def test_no_leftover_jinja(project: Rendered) -> None:
    variables = _template_variables()
    problems = []
    for path in project.files():
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(project.path)
        in_workflow = rel.parts[:2] == (".github", "workflows")
        for lineno, line in enumerate(text.splitlines(), start=1):
            if in_workflow:
                line = ACTIONS_EXPRESSION.sub("", line)
            if leftover_jinja(line, variables):
                problems.append(f"{rel}:{lineno}: {line.strip()}")
    assert not problems, "leftover Jinja syntax:\n" + "\n".join(problems)


def test_answers_file(project: Rendered) -> None:
    answers = project.answers
    assert answers["_src_path"]
    for key, value in project.data.items():
        assert answers[key] == value
    # Computed values and secrets are never stored.
    assert "self_hosted" not in answers
    assert "python_version_nodot" not in answers


def test_toml_files_parse(project: Rendered) -> None:
    tomls = [path for path in project.files() if path.suffix == ".toml"]
    assert tomls, "no TOML file rendered"
    for path in tomls:
        with path.open("rb") as handle:
            try:
                tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                pytest.fail(f"{path.relative_to(project.path)} is not valid TOML: {exc}")


def test_yaml_files_parse(project: Rendered) -> None:
    yamls = [path for path in project.files() if path.suffix in {".yml", ".yaml"}]
    assert yamls, "no YAML file rendered"
    for path in yamls:
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.relative_to(project.path)} is not valid YAML: {exc}")


def test_pyproject_names_the_package(project: Rendered) -> None:
    with (project.path / "pyproject.toml").open("rb") as handle:
        pyproject = tomllib.load(handle)
    assert pyproject["project"]["name"] == project.slug.replace("_", "-")
    assert pyproject["project"]["requires-python"] == f">={project.answers['python_version']}"


def test_scripts_are_executable_and_parse(project: Rendered) -> None:
    scripts = sorted((project.path / "scripts").glob("*.sh"))
    assert scripts, "no scripts rendered"
    for script in scripts:
        rel = script.relative_to(project.path)
        assert script.stat().st_mode & stat.S_IXUSR, f"{rel} is not executable"
        assert script.read_text().startswith("#!"), f"{rel} has no shebang"
        check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"bash -n {rel}:\n{check.stderr}"


def test_python_files_compile(project: Rendered) -> None:
    for path in project.files():
        if path.suffix == ".py":
            source = path.read_text(encoding="utf-8")
            try:
                compile(source, str(path), "exec")
            except SyntaxError as exc:
                pytest.fail(f"{path.relative_to(project.path)} does not compile: {exc}")
