"""The course's speed figures, each measured in one run by the command that `make bench` prints.

1. the README's test command from a fresh clone (set-up and tests, timed apart);
2. `course grade` against plain sequential `nbgrader autograde` on the same submissions (a throughput
   ratio), and against the floor: the same notebooks executed by nbclient with the same number of
   workers (raw kernel time, no grading at all);
3. `course progress` for every released notebook (what a learner who has not started sees);
4. the solution notebooks one by one against their budgets (in cli.cmd_bench).

Figures are printed, never asserted by a test: a shared machine makes timed tests flaky.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import REPO, Course


@dataclass
class Figure:
    name: str
    value: str
    budget: str
    met: bool | None  # None: nothing to compare with
    command: str

    def line(self) -> str:
        verdict = "" if self.met is None else ("  ok" if self.met else "  OVER BUDGET")
        return f"{self.name:34} {self.value:>24}   budget {self.budget:<22}{verdict}\n{'':34} measured by: {self.command}"


def synthetic_submissions(course: Course, assignment: str, at_least: int = 20) -> dict[str, nbformat.NotebookNode]:
    """The solution, the released stub and every mutant (padded with copies of the solution)."""
    from .mutants import load_mutants

    solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    stub = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    submissions = {"solution": solution, "stub": stub} | {m.student: m.apply(solution) for m in load_mutants(course, assignment)}
    for i in range(max(0, at_least - len(submissions))):
        submissions[f"solution-copy-{i + 1}"] = solution
    return submissions


def _execute(path: str) -> None:
    """One notebook in a fresh kernel, errors allowed (a stub or a mutant fails some cells)."""
    from .nbgrader import execute_notebook

    execute_notebook(nbformat.read(path, as_version=4), str(Path(path).parent))


def grading_figures(course: Course, assignment: str, jobs: int = 2) -> tuple[float, float, float, int]:
    """Seconds for (plain sequential nbgrader autograde, course grade with `jobs` workers,
    nbclient alone with `jobs` workers) on the same synthetic submissions, and how many there were."""
    from .batch import _template, grade_batch, run_in_own_group, write_submissions

    submissions = synthetic_submissions(course, assignment)
    with tempfile.TemporaryDirectory(prefix="course-grade-bench-") as tmp:
        folder = Path(tmp) / "course"
        write_submissions(folder, assignment, submissions)
        template = _template(course, assignment)  # generated once, as an instructor would
        try:
            shutil.copytree(folder / "submitted", template / "submitted")
            start = time.perf_counter()
            run_in_own_group([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"], template, 3600)
            sequential = time.perf_counter() - start
        finally:
            shutil.rmtree(template, ignore_errors=True)
        start = time.perf_counter()
        grade_batch(folder, assignment, jobs=jobs, course=course)
        graded = time.perf_counter() - start
        paths = sorted(str(p) for p in (folder / "submitted").glob(f"*/{assignment}/{assignment}.ipynb"))
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(_execute, paths))
        floor = time.perf_counter() - start
    return sequential, graded, floor, len(submissions)


def progress_seconds(course: Course) -> tuple[float, int]:
    """`course progress` over a fresh copy of every released notebook: (seconds, notebooks)."""
    with tempfile.TemporaryDirectory(prefix="course-progress-bench-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(course.release, work)
        count = len(list(work.glob("*/*.ipynb")))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "coursekit.grading.cli", "progress", "--dir", str(work)],
                       check=True, capture_output=True, timeout=600)
        return time.perf_counter() - start, count


def fresh_clone_suite() -> tuple[float, float, int]:
    """Clone this repository's HEAD into a temporary folder and run the README's commands there:
    (seconds of `make setup`, seconds of `make test`, its exit status)."""
    with tempfile.TemporaryDirectory(prefix="course-suite-bench-") as tmp:
        clone = Path(tmp) / "course"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=300)
        start = time.perf_counter()
        subprocess.run(["make", "setup"], cwd=clone, check=True, stdout=subprocess.DEVNULL, timeout=3600)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        code = subprocess.call(["make", "test"], cwd=clone, stdout=subprocess.DEVNULL, timeout=3 * 3600)
        return setup, time.perf_counter() - start, code
