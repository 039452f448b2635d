"""Broken and hostile submissions of the fixture course's 00_demo notebook, one per kind.

Each entry: student id -> a function that writes the submission folder from the
solution and release notebooks. tests/test_batch_grading.py grades them all in one batch.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from coursekit.grading.lint import nbgrader_meta

WRONG_DOUBLE = "def double(x):\n    return x + 2"


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def _with(nb, grade_id, source):
    nb = copy.deepcopy(nb)
    _cell(nb, grade_id).source = source
    return nb


def _write(folder: Path, nb, name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / (name or f"{folder.name}.ipynb")))


def build(submitted: Path, assignment: str, solution, release) -> dict[str, str]:
    """Write every submission; returns student -> what it does."""
    kinds: dict[str, tuple[str, object]] = {}

    def add(student, what, nb, name=None):
        kinds[student] = (what, (nb, name))

    add("good-1", "the solution", solution)
    add("good-2", "the solution again", copy.deepcopy(solution))
    add("stub", "the untouched release", release)
    add("endless-loop", "double() never returns", _with(solution, "double-answer", "def double(x):\n    while True:\n        pass"))
    add("sys-exit", "calls sys.exit() in an answer", _with(solution, "double-answer", "import sys\nsys.exit(3)"))
    add("kernel-killed", "kills its kernel with os._exit", _with(solution, "double-answer", "import os\nos._exit(1)"))
    nb = copy.deepcopy(solution)
    nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != "double-tests"]
    add("deleted-test-cell", "deletes a test cell", nb)
    nb = _with(solution, "double-answer", WRONG_DOUBLE)
    _cell(nb, "double-tests").source = "print('all good')"
    add("edited-test-cell", "edits a test cell to pass a wrong answer", nb)
    nb = copy.deepcopy(solution)
    _cell(nb, "greet-answer").cell_type = "markdown"
    del _cell(nb, "greet-answer")["outputs"]
    del _cell(nb, "greet-answer")["execution_count"]
    add("changed-cell-type", "turns an answer cell into markdown", nb)
    nb = copy.deepcopy(solution)
    nb.cells.insert(3, nbformat.v4.new_code_cell("scratch = [i * i for i in range(10)]"))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("my notes"))
    add("extra-cells", "adds cells of its own", nb)
    add("huge-output", "prints 5 MB", _with(solution, "double-answer", "print('x' * 5_000_000)\n" + "def double(x):\n    return 2 * x"))
    nb = copy.deepcopy(solution)
    nb.cells.insert(3, copy.deepcopy(_cell(nb, "double-answer")))
    add("duplicate-cells", "duplicates an answer cell (same grade id)", nb)
    add("wrongly-named", "submits homework.ipynb", solution, "homework.ipynb")
    add("tamper-toolkit", "patches coursekit.expect to pass a wrong answer",
        _with(solution, "double-answer", WRONG_DOUBLE + "\nimport coursekit\ncoursekit.expect = lambda *args, **kwargs: None"))
    add("tamper-builtins", "patches builtins",
        _with(solution, "double-answer", WRONG_DOUBLE + "\nimport builtins\nbuiltins.callable = lambda x: True"))
    add("tamper-sys-modules", "replaces the toolkit in sys.modules",
        _with(solution, "double-answer", WRONG_DOUBLE + "\nimport sys, types\nsys.modules['coursekit'] = types.SimpleNamespace(expect=lambda *a, **k: None)"))

    for student, (what, (nb, name)) in kinds.items():
        _write(submitted / student / assignment, nb, name or f"{assignment}.ipynb")
    (submitted / "invalid-json" / assignment).mkdir(parents=True)
    (submitted / "invalid-json" / assignment / f"{assignment}.ipynb").write_text('{"cells": [ oops')
    (submitted / "missing" / assignment).mkdir(parents=True)
    return {s: w for s, (w, _) in kinds.items()} | {"invalid-json": "invalid notebook JSON", "missing": "no notebook at all"}
