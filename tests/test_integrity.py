"""Grading's integrity guards: the syntax-tree scan and the kernel's integrity report.

Every kind of tampering in tests/hostile_submissions.py is found (by the scan, the report, or
both), and nothing the course itself writes (solutions, stubs, mutants, alternatives) is.
The batch-grading tests show the consequence: such submissions are held with score 0.
"""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from coursekit.grading.course import Course
from coursekit.grading.integrity import Context, guard, new_nonce, scan, verdict
from coursekit.grading.mutants import load_alternatives, load_mutants
from fixture_course import ASSIGNMENT, make_course
from hostile_submissions import TAMPERING, WRONG_DOUBLE, _with

COURSE = Course()
ONLY_SEEN_WHEN_RUN = {"overwrite-data"}  # nothing in its code is suspicious; the report sees the file change


@pytest.fixture(scope="module")
def fixture_course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("integrity") / "course")
    source = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    return course, source, release


@pytest.mark.parametrize("kind", sorted(set(TAMPERING) - ONLY_SEEN_WHEN_RUN))
def test_the_scan_finds_each_kind_of_tampering(fixture_course, kind):
    _, source, release = fixture_course
    findings = scan(_with(source, "double-answer", TAMPERING[kind][1]), source, release)
    assert findings, f"{kind}: {TAMPERING[kind][0]} was not found"
    assert all(f.cell == "double-answer" and f.line > 0 for f in findings)


def test_the_scan_leaves_honest_code_alone(fixture_course):
    _, source, release = fixture_course
    honest = ("import math\nfrom dataclasses import dataclass\n\n@dataclass\nclass Doubler:\n    factor: int = 2\n\n"
              "doubler = Doubler()\ndoubler.factor = 3\nsettings = {}\nsettings['x'] = 1\n\n"
              "def double(x):\n    result = {}\n    result['value'] = 2 * x\n    return result['value']")
    assert scan(_with(source, "double-answer", honest), source, release) == []
    # Defining, in one answer, a name another answer defines is the learner's business, not tampering;
    # so are containers with __len__ and __contains__.
    scratch = ("def greet(name):\n    return 'Hello, ' + name + '!'\n\nclass Cache:\n    def __len__(self):\n        return 0\n\n"
               "    def __contains__(self, key):\n        return False\n\ndef double(x):\n    return 2 * x")
    assert scan(_with(source, "double-answer", scratch), source, release) == []
    edited_demo = _with(source, "double-answer", WRONG_DOUBLE)
    edited_demo.cells[-1].source = "import coursekit\ncoursekit.expect = None"  # a changed non-graded cell is scanned too
    assert [f.reason for f in scan(edited_demo, source, release)] == ["changes coursekit from outside (sets an attribute or item of 'coursekit')"]


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_nothing_the_course_writes_is_flagged(assignment):
    source = nbformat.read(str(COURSE.source_notebook(assignment)), as_version=4)
    release = nbformat.read(str(COURSE.release_notebook(assignment)), as_version=4)
    context = Context.of(source, release)
    problems = [f"solution: {f}" for f in scan(source, source, release, context)]
    problems += [f"stub: {f}" for f in scan(release, source, release, context)]
    for variant in load_mutants(COURSE, assignment) + load_alternatives(COURSE, assignment):
        problems += [f"{variant.kind} {variant.name}: {f}" for f in scan(variant.apply(source), source, release, context)]
    assert not problems, "\n".join(problems)


def run_guarded(nb, nonce, folder):
    guarded = guard(nb, nonce)
    try:
        NotebookClient(guarded, timeout=10, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    except (CellTimeoutError, DeadKernelError):
        pass  # what nbgrader records too: the cells that ran
    return guarded


@pytest.mark.parametrize("kind", ["tamper-alias", "tamper-vars", "swap-builtins", "tamper-httpx", "overwrite-data",
                                  "cell-rewriter", "swallow-errors", "settrace", "fake-ticks-exit", "always-equal"])
def test_the_integrity_report_sees_tampering_at_run_time(fixture_course, kind):
    course, source, _ = fixture_course
    nonce = new_nonce()
    graded = run_guarded(_with(source, "double-answer", TAMPERING[kind][1]), nonce, course.root)
    if kind == "always-equal":  # nothing changes at run time: only the scan can see it
        assert verdict(graded, nonce) == []
        return
    assert verdict(graded, nonce), f"{kind}: {TAMPERING[kind][0]} left a clean integrity report"
    assert not subprocess.run(["git", "status", "--porcelain", "data"], capture_output=True, text=True,
                              cwd=COURSE.root).stdout, "a submission changed the course's own data/ folder"


def test_a_clean_run_has_a_clean_report_and_the_nonce_matters(fixture_course):
    course, source, _ = fixture_course
    nonce = new_nonce()
    graded = run_guarded(source, nonce, course.root)
    assert verdict(graded, nonce) == []
    assert verdict(graded, new_nonce()) == ["the integrity check did not run before the notebook's cells"]
