"""Learner progress: run notebooks headless and tell, per notebook, what passes and what to do next.

Runs each notebook in a fresh kernel (three at a time), with allow_errors so one
failing exercise does not hide the others. An exercise passes when its test cell
runs without an error and without writing to stderr (the rule nbgrader grades by).
Only the visible tests exist in a learner's copy: hidden tests also count in a class.

Only the cells the exercises need run (`lean_notebook`: set-up, answers, tests, and
any cell of the learner's or the course's that binds a name those read); demos that
only show something are skipped, which makes a report of all thirteen notebooks
several times faster. The kernels' own log lines are not shown.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .lint import is_test_cell, nbgrader_meta

CELL_TIMEOUT = 60
JOBS = 3  # notebooks at once: on two cores a kernel spends much of its time starting and waiting


@dataclass
class Exercise:
    number: int
    grade_id: str
    points: float
    passed: bool
    message: str = ""


@dataclass
class NotebookProgress:
    name: str
    exercises: list[Exercise] = field(default_factory=list)
    error: str = ""  # the notebook could not be run at all

    @property
    def passed(self) -> int:
        return sum(e.passed for e in self.exercises)

    @property
    def points(self) -> tuple[float, float]:
        return sum(e.points for e in self.exercises if e.passed), sum(e.points for e in self.exercises)

    @property
    def next_exercise(self) -> Exercise | None:
        return next((e for e in self.exercises if not e.passed), None)

    @property
    def complete(self) -> bool:
        return not self.error and bool(self.exercises) and self.passed == len(self.exercises)


def _failure(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            first = str(output.get("evalue", "")).strip().splitlines()
            if output.get("ename") == "CheckFailed":  # the check's own words are the message
                return first[0] if first else "a check failed"
            return f"{output.get('ename')}: {first[0] if first else ''}"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "the cell wrote to stderr (graded as a failure): " + output.get("text", "").strip()[:120]
    return ""


def run_notebook(path: Path) -> NotebookProgress:
    """Execute one notebook's exercises (and what they need) in a fresh kernel; read each test cell."""
    from nbclient import NotebookClient

    from .soundness import lean_notebook

    progress = NotebookProgress(path.stem)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001
        progress.error = f"not a readable notebook: {exc}"
        return progress
    nb = lean_notebook(nb)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, interrupt_on_timeout=True, allow_errors=True, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's log lines (TCP warning), not the cells' output
    except Exception as exc:  # noqa: BLE001 - a dead kernel still leaves the cells run so far
        progress.error = f"the notebook stopped: {type(exc).__name__}: {exc}"
    number = 0
    for cell in nb.cells:
        if is_test_cell(cell):
            number += 1
            executed = cell.get("execution_count") is not None
            message = _failure(cell) if executed else "not run"
            meta = nbgrader_meta(cell)
            progress.exercises.append(Exercise(number, meta["grade_id"], float(meta.get("points", 0)), executed and not message, message))
    return progress


def collect(paths: list[Path], jobs: int = JOBS) -> list[NotebookProgress]:
    if len(paths) <= 1 or jobs <= 1:
        return [run_notebook(p) for p in paths]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_notebook, paths))


def render(results: list[NotebookProgress]) -> str:
    """One line per notebook, and under each unfinished one the next exercise and its check's message."""
    lines = [f"{'notebook':30} {'exercises':>9} {'visible points':>15}"]
    for r in results:
        got, total = r.points
        nxt = r.next_exercise
        lines.append(f"{r.name:30} {f'{r.passed}/{len(r.exercises)}':>9} {f'{got:g}/{total:g}':>15}"
                     + ("   done \u2714" if r.complete else ""))
        if r.error and not r.exercises:
            lines.append(f"    {r.error[:300]}")
        elif nxt is not None:
            lines.append(f"    next: Exercise {nxt.number} ({nxt.grade_id})")
            lines.append(f"          {nxt.message[:300]}")
    lines.append("")
    lines.append("Visible tests only. When a notebook is graded in a class, hidden tests also count,")
    lines.append("so a full score here is a good sign, not a promise.")
    return "\n".join(lines)
