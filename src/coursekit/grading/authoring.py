"""Build nbgrader notebooks from Python: the cell kinds the course uses, with their metadata.

    nb = notebook([
        markdown("# Title"),
        code("import coursekit"),
        answer("health-answer", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        graded("health-tests", 2, "assert f() == 1\n### BEGIN HIDDEN TESTS\n...\n### END HIDDEN TESTS"),
    ])
    save(nb, path)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def markdown(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(source.strip("\n"))


def answer(grade_id: str, source: str) -> NotebookNode:
    """An autograded-answer cell: the learner's code goes here."""
    cell = code(source)
    cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=False, solution=True, locked=False)
    return cell


def graded(grade_id: str, points: float, source: str) -> NotebookNode:
    """A locked autograder-tests cell worth `points`."""
    cell = code(source)
    cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, solution=False, locked=True, points=points)
    return cell


def readonly(grade_id: str, source: str, kind: str = "code") -> NotebookNode:
    """A locked cell the learner cannot edit (setup code nbgrader restores at grading)."""
    cell = code(source) if kind == "code" else markdown(source)
    cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=False, solution=False, locked=True)
    return cell


def notebook(cells: list[NotebookNode]) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    return nb


def save(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
