"""Fast checks of the course's structure: pinned dependencies, lint, mutant coverage, commands."""

from __future__ import annotations

import re

import pytest

from coursekit.grading import deps
from coursekit.grading.course import REPO, Course
from coursekit.grading.lint import lint_outputs, lint_source
from coursekit.grading.mutants import load_alternatives, load_mutants, load_requirements
from coursekit.grading.soundness import check_coverage

COURSE = Course()
ASSIGNMENTS = COURSE.assignments()


def test_there_are_assignments():
    assert ASSIGNMENTS, "no notebooks found in solutions/"


def test_direct_dependencies_are_pinned_in_the_lock():
    lock = deps.lock_pins()
    for name, version in deps.direct_pins().items():
        assert lock.get(name) == version, f"pyproject.toml pins {name}=={version}, requirements.lock has {lock.get(name)}"


def test_environment_yml_installs_exactly_the_lock():
    text = deps.ENVIRONMENT.read_text()
    assert deps.environment_pins(text) == deps.lock_pins(), "environment.yml and requirements.lock disagree: run `make lock`"
    assert text == deps.render_environment(deps.lock_pins()), "environment.yml is not what `make lock` writes"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^exec make test$", (REPO / ".ci" / "run").read_text(), re.M)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_lint(assignment):
    problems = lint_source(COURSE.source_notebook(assignment))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_notebook_has_no_outputs(assignment):
    path = COURSE.release_notebook(assignment)
    assert path.exists(), f"{path} is missing: run `make release`"
    problems = lint_outputs(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_requirement_is_broken_by_a_mutant_and_every_variant_applies(assignment):
    # At least four mutants and one alternative per exercise, every listed requirement broken by a
    # mutant; checked here without nbgrader (test_grading_soundness grades them).
    problems = check_coverage(COURSE, assignment, load_mutants(COURSE, assignment), load_alternatives(COURSE, assignment),
                              load_requirements(COURSE, assignment))
    assert not problems, "\n".join(problems)


def test_jupyterlab_opens_with_the_nbgrader_extension_enabled():
    import json
    import sys
    from pathlib import Path

    prefix = Path(sys.prefix)
    assert (prefix / "share/jupyter/labextensions/@jupyter/nbgrader/package.json").exists(), "nbgrader's JupyterLab extension is not installed"
    config = json.loads((prefix / "etc/jupyter/jupyter_server_config.d/nbgrader.json").read_text())
    enabled = config["ServerApp"]["jpserver_extensions"]
    assert enabled.get("nbgrader.server_extensions.validate_assignment") is True, enabled
