"""Each soundness check fails, with a message naming notebook and cell, on a course built to break it.

A check that cannot fail protects nothing; these tests break a tiny fixture
course (tests/fixture_course.py) one way at a time.
"""

from __future__ import annotations

import subprocess
import sys

import nbformat

from coursekit.grading.authoring import answer, graded, markdown, notebook, save
from coursekit.grading.lint import lint_outputs, lint_source
from coursekit.grading.mutants import load_mutants
from coursekit.grading.soundness import check_mutant_coverage, check_mutants, check_reference, check_release_in_sync
from fixture_course import ASSIGNMENT, GREET_SOLUTION, GREET_TESTS, demo_cells, make_course

# A test cell that passes whatever double() does: it grades nothing.
WEAK_TESTS = '''
from coursekit import expect
expect(callable(double), "double should be a function")
### BEGIN HIDDEN TESTS
expect(double is not None, "double should exist")
### END HIDDEN TESTS
'''


def test_a_sound_fixture_passes_every_check(tmp_path):
    course = make_course(tmp_path / "good")
    mutants = load_mutants(course, ASSIGNMENT)
    assert lint_source(course.source_notebook(ASSIGNMENT)) == []
    assert check_release_in_sync(course, ASSIGNMENT, tmp_path / "scratch") == []
    assert check_reference(course, ASSIGNMENT) == []
    assert check_mutants(course, ASSIGNMENT, mutants) == []


def test_a_test_cell_that_passes_on_the_stub_is_caught(tmp_path):
    course = make_course(tmp_path / "weak", demo_cells(double_tests=WEAK_TESTS))
    problems = check_reference(course, ASSIGNMENT)
    assert problems == [
        "00_demo/00_demo.ipynb: cell double-tests: the released stub scores 1/1; this test cell grades nothing"
    ]
    # ... and the same weak cell lets a wrong answer keep its points.
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert len(problems) == 1
    assert "cell double-tests: mutant 'adds-instead' keeps 1/1 points; no test catches this mistake" in problems[0]


def test_a_mutant_that_breaks_another_exercise_is_caught(tmp_path):
    leaky = '''
[[mutant]]
answer = "double-answer"
name = "deletes-everything"
mistake = "Leaves the cell broken at import time."
source = "raise SystemExit"
'''
    course = make_course(tmp_path / "leaky", mutants=leaky, release=False)
    course.release.mkdir(parents=True)
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert problems == [], problems  # SystemExit only costs its own exercise: nbgrader goes on
    # A mutant that patches the toolkit breaks every later test cell: caught as a leak.
    leaky2 = leaky.replace('source = "raise SystemExit"', 'source = "import coursekit\\ncoursekit.expect = None"')
    course.mutants_file(ASSIGNMENT).write_text(leaky2)
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert any("costs points in another exercise" in p and "cell greet-tests" in p for p in problems), problems


def test_a_release_out_of_sync_is_caught(tmp_path):
    course = make_course(tmp_path / "sync")
    source = course.source_notebook(ASSIGNMENT)
    nb = nbformat.read(str(source), as_version=4)
    nb.cells[1].source += "\n\nA sentence added after the release was made."
    nbformat.write(nb, str(source))
    problems = check_release_in_sync(course, ASSIGNMENT, tmp_path / "scratch")
    assert problems == [
        "notebooks/00_demo/00_demo.ipynb: differs from the generated release at cell 1; run `make release`"
    ]


def test_a_stored_output_is_caught(tmp_path):
    nb = notebook(demo_cells())
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="4\n")]
    nb.cells[2].execution_count = 3
    path = tmp_path / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    save(nb, path)
    assert lint_outputs(path) == [
        "00_demo/00_demo.ipynb: cell 2 (double-answer): stored output or execution count (strip outputs before committing)"
    ]


def test_metadata_lint_names_each_broken_cell(tmp_path):
    cells = demo_cells()
    cells[3] = graded("greet-tests", 0, "print('no checks at all')")  # duplicate id, 0 points, no checks
    cells[3].metadata.nbgrader["locked"] = False
    cells[4] = markdown("## Exercise 2\n\nNo hints here.")
    cells[6] = graded("greet-tests-2", 2, GREET_TESTS)
    cells.insert(7, answer("orphan-answer", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    path = tmp_path / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    save(notebook(cells), path)
    problems = lint_source(path)
    assert "00_demo/00_demo.ipynb: cell 3 (greet-tests): a test cell needs points > 0" in problems
    assert "00_demo/00_demo.ipynb: cell 3 (greet-tests): a test cell must be locked" in problems
    assert any(p.startswith("00_demo/00_demo.ipynb: cell 3 (greet-tests): no hidden tests") for p in problems)
    assert "00_demo/00_demo.ipynb: cell 6 (greet-tests-2): grade_id 'greet-tests-2' is also used by cell 3" not in problems
    assert any("cell 5 (greet-answer): no hints" in p for p in problems)
    assert "00_demo/00_demo.ipynb: cell 7 (orphan-answer): an answer cell must be followed right away by its test cell" in problems
    dup = notebook(demo_cells())
    dup.cells[6].metadata.nbgrader["grade_id"] = "double-tests"
    save(dup, path)
    assert "00_demo/00_demo.ipynb: cell 6 (double-tests): grade_id 'double-tests' is also used by cell 3" in lint_source(path)


def test_missing_and_broken_mutants_are_caught(tmp_path):
    broken = '''
[[mutant]]
answer = "double-answer"
name = "typo"
mistake = "An edit that no longer matches the solution."
[[mutant.edit]]
old = "return 3 * x"
new = "return x"
'''
    course = make_course(tmp_path / "mut", mutants=broken, release=False)
    problems = check_mutant_coverage(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert "00_demo/00_demo.ipynb: cell double-answer: 1 mutant(s) in autograder/mutants/00_demo.toml; at least 2 needed" in problems
    assert "00_demo/00_demo.ipynb: cell greet-answer: 0 mutant(s) in autograder/mutants/00_demo.toml; at least 2 needed" in problems
    assert any("mutant 'typo': the text to replace occurs 0 times in 'double-answer'" in p for p in problems)


def test_nbval_names_the_failing_cell(tmp_path):
    cells = demo_cells()
    cells[5] = answer("greet-answer", GREET_SOLUTION.replace("'stranger'", "'nobody'"))
    path = tmp_path / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    save(notebook(cells), path)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-o", "addopts=", "-q", str(path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "00_demo.ipynb::Cell 3" in proc.stdout  # nbval counts code cells only: the greet tests
    assert "an empty name gets 'stranger'" in proc.stdout
