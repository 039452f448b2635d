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


NOOP = "lambda *args, **kwargs: None"
# Ways to fake a pass that a learner could plausibly find. Each goes in the first answer cell, most
# with a wrong answer; each must be held for review and score 0 on every exercise.
TAMPERING = {
    "tamper-toolkit": ("patches coursekit.expect", f"{WRONG_DOUBLE}\nimport coursekit\ncoursekit.expect = {NOOP}"),
    "tamper-alias": ("patches the checks module through an alias",
                     f"{WRONG_DOUBLE}\nimport coursekit.checks as c\nc.fail = {NOOP}"),
    "tamper-from-import": ("patches the checks module imported with from",
                           f"{WRONG_DOUBLE}\nfrom coursekit import checks\nchecks.fail = {NOOP}"),
    "tamper-importlib": ("patches the toolkit found through importlib",
                         f"{WRONG_DOUBLE}\nimport importlib\nimportlib.import_module('coursekit.checks').fail = {NOOP}"),
    "tamper-vars": ("patches the toolkit through vars() and __import__",
                    f"{WRONG_DOUBLE}\nvars(__import__('coursekit.checks').checks)['fail'] = {NOOP}"),
    "tamper-dict": ("patches the toolkit through __dict__",
                    f"{WRONG_DOUBLE}\nimport coursekit\ncoursekit.checks.__dict__['fail'] = {NOOP}"),
    "tamper-setattr": ("patches the toolkit through setattr and sys.modules",
                       f"{WRONG_DOUBLE}\nimport sys\nsetattr(sys.modules['coursekit.checks'], 'fail', {NOOP})"),
    "tamper-globals": ("rebinds a test helper through globals()", f"{WRONG_DOUBLE}\nglobals()['expect'] = {NOOP}"),
    "rebind-name": ("rebinds a name the test cells use", f"{WRONG_DOUBLE}\nexpect = {NOOP}"),
    "tamper-builtins": ("patches builtins", f"{WRONG_DOUBLE}\nimport builtins\nbuiltins.callable = lambda x: True"),
    "swap-builtins": ("patches builtins through __builtins__",
                      f"{WRONG_DOUBLE}\n__builtins__.__dict__['isinstance'] = lambda *a: True"),
    "tamper-sys-modules": ("replaces the toolkit in sys.modules",
                           f"{WRONG_DOUBLE}\nimport sys, types\nsys.modules['coursekit'] = types.SimpleNamespace(expect={NOOP})"),
    "tamper-httpx": ("makes httpx answer canned responses",
                     f"{WRONG_DOUBLE}\nimport httpx\nhttpx.AsyncClient.send = {NOOP}"),
    "tamper-fastapi": ("patches FastAPI", f"{WRONG_DOUBLE}\nfrom fastapi import FastAPI\nFastAPI.__call__ = {NOOP}"),
    "tamper-fake-llm": ("overwrites the fake model's counters",
                        f"{WRONG_DOUBLE}\nfrom coursekit import FakeLLM\nFakeLLM.stats = lambda self: {{'peak_active': 2}}"),
    "fake-counter": ("sets the fake model's peak concurrency by hand",
                     f"{WRONG_DOUBLE}\nfrom coursekit import FakeLLM\nmodel = FakeLLM()\nmodel.peak_active = 8"),
    "overwrite-data": ("overwrites a file in data/", f"{WRONG_DOUBLE}\nfrom coursekit import data_path\n"
                       "with open(data_path('fake_llm.json'), 'a') as f:\n    f.write(' ')"),
    "exec-string": ("runs a patch from a string with exec",
                    f"{WRONG_DOUBLE}\nexec('import coursekit.checks as c\\nc.fail = {NOOP}')"),
    "eval-compile": ("runs a patch compiled from a string",
                     f"{WRONG_DOUBLE}\neval(compile('setattr(__import__(\"coursekit\"), \"expect\", {NOOP})', 'x', 'exec'))"),
    "always-equal": ("returns an object that equals anything",
                     "class Yes(int):\n    def __eq__(self, other):\n        return True\n\n\ndef double(x):\n    return Yes(0)"),
    "mock-any": ("returns unittest.mock.ANY", "from unittest.mock import ANY\n\n\ndef double(x):\n    return ANY"),
    "settrace": ("installs a tracing hook", f"{WRONG_DOUBLE}\nimport sys\nsys.settrace(lambda *a: None)"),
    "fake-ticks-exit": ("prints fake check marks and ends the process",
                        "print('\u2714 Visible tests passed.')\nimport os\nos._exit(0)"),
    "cell-rewriter": ("rewrites every later cell before it runs",
                      f"{WRONG_DOUBLE}\nget_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    "swallow-errors": ("replaces the error display so failures show nothing",
                       f"{WRONG_DOUBLE}\nget_ipython().set_custom_exc((Exception,), {NOOP})"),
}


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
    add("honest-names", "an honest answer with its own helpers, imports and attributes", _with(solution, "double-answer",
        "import math\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass Doubler:\n    factor: int = 2\n\n"
        "    def __call__(self, x):\n        return self.factor * x\n\n\ndoubler = Doubler()\ndoubler.factor = 2\n"
        "\n\ndef double(x):\n    return doubler(x) if math.isfinite(x) else x"))
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
    for student, (what, cheat) in TAMPERING.items():
        add(student, what, _with(solution, "double-answer", cheat))

    for student, (what, (nb, name)) in kinds.items():
        _write(submitted / student / assignment, nb, name or f"{assignment}.ipynb")
    (submitted / "invalid-json" / assignment).mkdir(parents=True)
    (submitted / "invalid-json" / assignment / f"{assignment}.ipynb").write_text('{"cells": [ oops')
    (submitted / "missing" / assignment).mkdir(parents=True)
    return {s: w for s, (w, _) in kinds.items()} | {"invalid-json": "invalid notebook JSON", "missing": "no notebook at all"}
