"""Metadata lint: the shape every graded notebook must have.

Each problem is one line that names the notebook and the cell (index and grade id).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .course import Course

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
CHECK = re.compile(r"\b(assert|expect\w*|fail)\b")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_answer_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("solution")) and not meta.get("grade")


def where(path: Path, index: int, cell) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    label = f"cell {index}" + (f" ({grade_id})" if grade_id else "")
    return f"{path.parent.name}/{path.name}: {label}"


def lint_outputs(path: Path) -> list[str]:
    """Notebooks are stored without outputs or execution counts."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook is a problem to report
        return [f"{path.parent.name}/{path.name}: not a readable notebook ({exc})"]
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{where(path, index, cell)}: stored output or execution count (strip outputs before committing)")
    return problems


def lint_source(path: Path) -> list[str]:
    """The nbgrader structure of a source (solution) notebook."""
    problems = lint_outputs(path)
    if problems and "not a readable notebook" in problems[0]:
        return problems
    nb = nbformat.read(str(path), as_version=4)
    seen: dict[str, int] = {}
    exercises = 0
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        here = where(path, index, cell)
        grade_id = meta.get("grade_id")
        if not grade_id:
            problems.append(f"{here}: nbgrader cell without a grade_id")
        elif grade_id in seen:
            problems.append(f"{here}: grade_id {grade_id!r} is also used by cell {seen[grade_id]}")
        else:
            seen[grade_id] = index
        if is_test_cell(cell):
            problems += _lint_test_cell(here, cell)
            previous = nb.cells[index - 1] if index else None
            if previous is None or not is_answer_cell(previous):
                problems.append(f"{here}: a test cell must come right after its exercise's answer cell")
        elif is_answer_cell(cell):
            exercises += 1
            problems += _lint_answer_cell(path, nb, index, cell)
        elif meta.get("solution") or meta.get("grade"):
            problems.append(f"{here}: unsupported nbgrader cell kind (use answer and test cells)")
    if exercises == 0:
        problems.append(f"{path.parent.name}/{path.name}: no graded exercises")
    return problems


def _lint_test_cell(here: str, cell) -> list[str]:
    problems = []
    meta = nbgrader_meta(cell)
    if cell.cell_type != "code":
        problems.append(f"{here}: a test cell must be a code cell")
    if not meta.get("points") or meta["points"] <= 0:
        problems.append(f"{here}: a test cell needs points > 0")
    if not meta.get("locked"):
        problems.append(f"{here}: a test cell must be locked")
    source = cell.source
    if HIDDEN_BEGIN not in source or HIDDEN_END not in source:
        problems.append(f"{here}: no hidden tests ({HIDDEN_BEGIN} ... {HIDDEN_END})")
    else:
        visible = source.split(HIDDEN_BEGIN)[0]
        hidden = source.split(HIDDEN_BEGIN)[1].split(HIDDEN_END)[0]
        if not CHECK.search(visible):
            problems.append(f"{here}: no visible tests before {HIDDEN_BEGIN}")
        if not CHECK.search(hidden):
            problems.append(f"{here}: the hidden tests check nothing")
    return problems


def _lint_answer_cell(path: Path, nb, index: int, cell) -> list[str]:
    problems = []
    here = where(path, index, cell)
    if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
        problems.append(f"{here}: an answer cell needs ### BEGIN SOLUTION / ### END SOLUTION")
    following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
    if following is None or not is_test_cell(following):
        problems.append(f"{here}: an answer cell must be followed right away by its test cell")
    # The task statement and hints come before the answer cell, after the previous exercise.
    start = max((i for i in range(index) if is_test_cell(nb.cells[i])), default=-1) + 1
    before = "\n".join(c.source for c in nb.cells[start:index] if c.cell_type == "markdown")
    if "<details" not in before:
        problems.append(f"{here}: no hints (a <details> block in the markdown before the answer cell)")
    return problems


def exercises(path: Path) -> list[tuple[str, str, float]]:
    """(answer grade id, test grade id, points) for each exercise, in notebook order."""
    nb = nbformat.read(str(path), as_version=4)
    pairs = []
    for index, cell in enumerate(nb.cells[:-1]):
        following = nb.cells[index + 1]
        if is_answer_cell(cell) and is_test_cell(following):
            pairs.append((nbgrader_meta(cell)["grade_id"], nbgrader_meta(following)["grade_id"], nbgrader_meta(following)["points"]))
    return pairs


def lint_course(course: Course) -> list[str]:
    problems = []
    for assignment in course.assignments():
        problems += lint_source(course.source_notebook(assignment))
        release = course.release_notebook(assignment)
        problems += lint_outputs(release) if release.exists() else [f"{assignment}: no release notebook (run `make release`)"]
    return problems
