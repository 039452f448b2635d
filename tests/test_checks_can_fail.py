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
from coursekit.grading.mutants import load_alternatives, load_mutants, load_requirements
from coursekit.grading.soundness import (
    check_alternatives,
    check_coverage,
    check_isolation,
    check_mutant_coverage,
    check_mutants,
    check_reference,
    check_release_in_sync,
)
from fixture_course import ASSIGNMENT, DOUBLE_TESTS, GREET_SOLUTION, GREET_TESTS, MUTANTS, demo_cells, make_course

# A test cell that passes whatever double() does: it grades nothing.
WEAK_TESTS = '''
from coursekit import expect
expect(callable(double), "double should be a function")
### BEGIN HIDDEN TESTS
expect(double is not None, "double should exist")
### END HIDDEN TESTS
'''


# Refuses a correct answer that is not written exactly like the solution.
DOUBLE_TESTS_PICKY = DOUBLE_TESTS.replace("### BEGIN HIDDEN TESTS", "import inspect\nexpect('2 * x' in inspect.getsource(double), 'write 2 * x')\n### BEGIN HIDDEN TESTS")

ALTERNATIVES = '''
[[alternative]]
answer = "double-answer"
name = "shift-left"
approach = "Shifts the bits left by one."
[[alternative.edit]]
old = "return 2 * x"
new = "return x << 1"
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
    course = make_course(tmp_path / "leaky", mutants=leaky)
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert problems == [], problems  # SystemExit only costs its own exercise: nbgrader goes on
    # A mutant that patches the toolkit breaks every later test cell: caught as a leak.
    leaky2 = leaky.replace('source = "raise SystemExit"', 'source = "import coursekit\\ncoursekit.expect = None"')
    course.mutants_file(ASSIGNMENT).write_text(leaky2)
    # Unsliced rounds (every exercise in every round) see the leak itself; sliced rounds leave the
    # other exercises out and rely on the integrity guard below and on the isolation rounds.
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT), sliced=False)
    assert any("a variant of another exercise costs points here" in p and "cell greet-tests" in p for p in problems), problems
    # ... and grading's integrity guards would hold it, sliced or not: a mutant must be an honest mistake.
    assert any("would be held for review as tampering" in p for p in problems), problems
    problems = check_mutants(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT))
    assert any("would be held for review as tampering" in p and "deletes-everything" in p for p in problems), problems


def test_an_alternative_that_loses_points_and_a_dependent_exercise_are_caught(tmp_path):
    # A correct answer written another way that the tests refuse: the tests over-specify.
    picky = DOUBLE_TESTS_PICKY
    course = make_course(tmp_path / "picky", demo_cells(double_tests=picky))
    course.alternatives_dir.mkdir(parents=True, exist_ok=True)
    course.alternatives_file(ASSIGNMENT).write_text(ALTERNATIVES)
    problems = check_alternatives(course, ASSIGNMENT, load_alternatives(course, ASSIGNMENT))
    assert len(problems) == 1 and "cell double-tests: alternative 'shift-left' scores 0/1" in problems[0], problems
    # An exercise whose tests lean on another exercise's answer fails the isolation rounds.
    cells = demo_cells()
    cells[6] = graded("greet-tests", 2, GREET_TESTS.replace("from coursekit import expect", "from coursekit import expect\nexpect(double(1) == 2, 'needs double')"))
    course = make_course(tmp_path / "dependent", cells)
    problems = check_isolation(course, ASSIGNMENT)
    assert problems == [
        "00_demo/00_demo.ipynb: cell greet-tests: scores 0/2 when double-answer is left unfinished (the released stub): "
        "exercises must be independent (NotImplementedError: Exercise not done yet: replace this line with your code)"
    ], problems


def test_requirements_without_mutants_and_too_few_variants_are_caught(tmp_path):
    requirements = MUTANTS.replace('mistake = "Forgets the empty name."', 'mistake = "Forgets the empty name."\nbreaks = ["greet-empty"]') + '''
[[requirement]]
answer = "greet-answer"
id = "greet-empty"
text = "an empty name is greeted as stranger"

[[requirement]]
answer = "greet-answer"
id = "greet-ada"
text = "greet('Ada') is 'Hello, Ada!'"
'''
    course = make_course(tmp_path / "reqs", mutants=requirements, release=False)
    problems = check_coverage(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT), load_alternatives(course, ASSIGNMENT),
                              load_requirements(course, ASSIGNMENT))
    assert "autograder/mutants/00_demo.toml: requirement 'greet-ada' is broken by no mutant: greet('Ada') is 'Hello, Ada!'" in problems
    assert "autograder/mutants/00_demo.toml: mutant 'adds-instead' names no requirement it breaks (breaks = [...])" in problems
    assert "00_demo/00_demo.ipynb: cell double-answer: 0 alternative(s) in autograder/alternatives/00_demo.toml; at least 1 needed (a correct answer written another way)" in problems
    assert "00_demo/00_demo.ipynb: cell greet-answer: 1 mutant(s) in autograder/mutants/00_demo.toml; at least 4 needed" in problems


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


def test_rounds_run_lean_only_when_the_lean_solution_keeps_full_marks(tmp_path):
    # Rounds leave out demo cells that nothing later reads. Here an exercise needs a file that a
    # demo cell's CALL writes, through a function defined earlier: the call binds no name and
    # writes nothing itself, so the lean notebook drops it, the lean solution loses points, the
    # rounds run in full, and a mutant is still judged on the real notebook.
    from coursekit.grading.authoring import code
    from coursekit.grading.soundness import check_rounds, plan_rounds

    needs_file = "return int(open('factor.txt').read()) * x"

    def course_with(*extra_cells, name):
        cells = demo_cells()
        cells[2] = answer("double-answer", f"def double(x):\n    ### BEGIN SOLUTION\n    {needs_file}\n    ### END SOLUTION")
        cells[1:1] = [code(c) for c in extra_cells]
        return make_course(tmp_path / name, cells, mutants=MUTANTS.replace("return 2 * x", needs_file))

    def rounds_note(course):
        notes: list[str] = []
        rounds = plan_rounds(course, ASSIGNMENT, load_mutants(course, ASSIGNMENT), reference=False, isolation=False)
        assert check_rounds(course, ASSIGNMENT, rounds, notes=notes) == []
        return notes

    hidden = course_with("def prepare():\n    open('factor.txt', 'w').write('2')", "prepare()", name="hidden")
    assert rounds_note(hidden) == ["1 rounds ran in full: the lean solution lost points"]
    # A cell that writes a file itself is kept (a later cell may read the file by name): lean holds.
    direct = course_with("import pathlib\npathlib.Path('factor.txt').write_text('2')", name="direct")
    assert rounds_note(direct) == ["1 rounds ran lean (without demo cells)"]
