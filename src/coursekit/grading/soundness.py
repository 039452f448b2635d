"""The grading contract, checked through real nbgrader.

- the release in notebooks/ is exactly what generate_assignment makes from solutions/;
- the solution scores full points on every test cell;
- the released stub scores zero on every test cell (hidden tests included);
- every mutant loses points on its own exercise, and only there.

Each function returns a list of problems; each problem names the notebook and the cell.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import nbformat

from .course import Course
from .lint import exercises
from .mutants import Mutant
from .nbgrader import CellResult, Scratch

SOLUTION, STUB = "reference-solution", "reference-stub"


def generate_release(course: Course, assignment: str, into: Path) -> None:
    """Run nbgrader generate_assignment and copy the release folder to `into`."""
    with Scratch(course, assignment) as scratch:
        generated = scratch.generate()
        if into.exists():
            shutil.rmtree(into)
        shutil.copytree(generated, into)


def check_release_in_sync(course: Course, assignment: str, scratch_dir: Path) -> list[str]:
    fresh = scratch_dir / assignment
    generate_release(course, assignment, fresh)
    committed = course.release / assignment
    if not committed.exists():
        return [f"notebooks/{assignment}: missing; run `make release`"]
    problems = []
    comparison = filecmp.dircmp(fresh, committed, ignore=[".ipynb_checkpoints", "__pycache__"])
    for name in comparison.left_only:
        problems.append(f"notebooks/{assignment}/{name}: missing from the release; run `make release`")
    for name in comparison.right_only:
        problems.append(f"notebooks/{assignment}/{name}: not made by generate_assignment; run `make release`")
    for name in comparison.diff_files:
        problems.append(f"notebooks/{assignment}/{name}: differs from the generated release"
                        f"{_first_differing_cell(fresh / name, committed / name)}; run `make release`")
    return problems


def _first_differing_cell(generated: Path, committed: Path) -> str:
    if generated.suffix != ".ipynb":
        return ""
    try:
        a = nbformat.read(str(generated), as_version=4)
        b = nbformat.read(str(committed), as_version=4)
    except Exception:  # noqa: BLE001
        return " (not a readable notebook)"
    for index, (x, y) in enumerate(zip(a.cells, b.cells)):
        if x != y:
            return f" at cell {index}"
    if len(a.cells) != len(b.cells):
        return f" ({len(a.cells)} cells generated, {len(b.cells)} committed)"
    return " (notebook metadata or formatting)"


def autograde(course: Course, assignment: str, submissions: dict[str, nbformat.NotebookNode]) -> dict[str, dict[str, CellResult]]:
    with Scratch(course, assignment) as scratch:
        scratch.generate()
        for student, nb in submissions.items():
            scratch.submit(student, nb)
        return scratch.autograde()


def _graded(results: dict[str, CellResult], test_id: str) -> CellResult:
    return results.get(test_id, CellResult(0.0, 0.0, "not graded (cell missing from the gradebook)"))


def check_reference(course: Course, assignment: str) -> list[str]:
    """Solution: full points everywhere. Released stub: zero everywhere."""
    name = f"{assignment}.ipynb"
    solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    stub = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    results = autograde(course, assignment, {SOLUTION: solution, STUB: stub})
    problems = []
    for _, test_id, points in exercises(course.source_notebook(assignment)):
        got = _graded(results.get(SOLUTION, {}), test_id)
        if got.score != points:
            problems.append(f"{assignment}/{name}: cell {test_id}: the solution scores {got.score:g}/{points:g} ({got.error or 'no error shown'})")
        got = _graded(results.get(STUB, {}), test_id)
        if got.score != 0:
            problems.append(f"{assignment}/{name}: cell {test_id}: the released stub scores {got.score:g}/{points:g}; this test cell grades nothing")
    return problems


def check_mutants(course: Course, assignment: str, mutants: list[Mutant]) -> list[str]:
    """Each mutant loses points on its own exercise and keeps full points on the others."""
    if not mutants:
        return []
    name = f"{assignment}.ipynb"
    solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    pairs = exercises(course.source_notebook(assignment))
    results = autograde(course, assignment, {m.student: m.apply(solution) for m in mutants})
    problems = []
    for mutant in mutants:
        graded = results.get(mutant.student, {})
        for answer_id, test_id, points in pairs:
            got = _graded(graded, test_id)
            if answer_id == mutant.answer and got.score >= points:
                problems.append(f"{assignment}/{name}: cell {test_id}: mutant {mutant.name!r} keeps {got.score:g}/{points:g} points; "
                                f"no test catches this mistake: {mutant.mistake}")
            if answer_id != mutant.answer and got.score != points:
                problems.append(f"{assignment}/{name}: cell {test_id}: mutant {mutant.name!r} of {mutant.answer} costs points in another "
                                f"exercise ({got.score:g}/{points:g}: {got.error}); exercises must be independent")
    return problems


def check_mutant_coverage(course: Course, assignment: str, mutants: list[Mutant], minimum: int = 2) -> list[str]:
    """Every exercise has at least `minimum` mutants, and every mutant applies cleanly."""
    solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    problems = []
    for answer_id, _, _ in exercises(course.source_notebook(assignment)):
        count = sum(m.answer == answer_id for m in mutants)
        if count < minimum:
            problems.append(f"{assignment}/{assignment}.ipynb: cell {answer_id}: {count} mutant(s) in autograder/mutants/{assignment}.toml; at least {minimum} needed")
    known = {a for a, _, _ in exercises(course.source_notebook(assignment))}
    for mutant in mutants:
        if mutant.answer not in known:
            problems.append(f"autograder/mutants/{assignment}.toml: mutant {mutant.name!r} names unknown answer cell {mutant.answer!r}")
            continue
        try:
            mutant.apply(solution)
        except ValueError as exc:
            problems.append(str(exc))
    return problems
