"""The `course` command (run it through make, or from .venv/bin/course).

    course release [ASSIGNMENT ...]   regenerate notebooks/ from solutions/ with nbgrader
    course lint                       metadata lint of every notebook
    course bench [--suite]            time each solution notebook (and its slowest test
                                      cell) against the budgets; --suite also times `make test`
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from .course import REPO, Course
from .lint import lint_course
from .soundness import generate_release

NOTEBOOK_BUDGET = 30.0  # seconds for a solution notebook, top to bottom
TEST_CELL_BUDGET = 3.0  # seconds for one test cell


def cmd_release(course: Course, assignments: list[str]) -> int:
    for assignment in assignments or course.assignments():
        generate_release(course, assignment, course.release / assignment)
        print(f"released notebooks/{assignment}")
    return 0


def cmd_lint(course: Course) -> int:
    problems = lint_course(course)
    print("\n".join(problems) or "lint: no problems")
    return 1 if problems else 0


def time_notebook(path: Path) -> tuple[float, float, str]:
    """Run a notebook in a fresh kernel from its own folder: (total s, slowest test cell s, its id)."""
    import nbformat
    from nbclient import NotebookClient

    from .lint import is_test_cell, nbgrader_meta

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    durations: dict[int, float] = {}
    original = client.async_execute_cell

    async def timed(cell, index, **kwargs):
        start = time.perf_counter()
        try:
            return await original(cell, index, **kwargs)
        finally:
            durations[index] = time.perf_counter() - start

    client.async_execute_cell = timed
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    tests = [(d, nbgrader_meta(nb.cells[i])["grade_id"]) for i, d in durations.items() if is_test_cell(nb.cells[i])]
    slowest, slowest_id = max(tests, default=(0.0, "-"))
    return total, slowest, slowest_id


def cmd_bench(course: Course, suite: bool) -> int:
    over = False
    print(f"{'notebook':32} {'run (s)':>8} {'slowest test cell (s)':>22}   budget: {NOTEBOOK_BUDGET:g} s / {TEST_CELL_BUDGET:g} s")
    for assignment in course.assignments():
        total, slowest, slowest_id = time_notebook(course.source_notebook(assignment))
        flag = "" if total <= NOTEBOOK_BUDGET and slowest <= TEST_CELL_BUDGET else "  OVER BUDGET"
        over |= bool(flag)
        print(f"{assignment:32} {total:8.1f} {slowest:14.2f} {slowest_id:>12}{flag}")
    if suite:
        start = time.perf_counter()
        code = subprocess.call(["make", "test"], cwd=REPO)
        print(f"make test: {time.perf_counter() - start:.0f} s (exit status {code})")
        over |= code != 0
    return 1 if over else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    release = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    release.add_argument("assignments", nargs="*")
    sub.add_parser("lint", help="metadata lint")
    bench = sub.add_parser("bench", help="time the solution notebooks")
    bench.add_argument("--suite", action="store_true", help="also time the whole test command")
    args = parser.parse_args(argv)
    course = Course()
    if args.command == "release":
        return cmd_release(course, args.assignments)
    if args.command == "lint":
        return cmd_lint(course)
    return cmd_bench(course, args.suite)


if __name__ == "__main__":
    sys.exit(main())
