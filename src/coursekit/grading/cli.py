"""The `course` command (run it through make, or from .venv/bin/course).

    course release [ASSIGNMENT ...]   regenerate notebooks/ from solutions/ with nbgrader
    course lint                       metadata lint of every notebook
    course lab [--instructor] [JUPYTERLAB OPTIONS ...]
                                      JupyterLab on your workspace work/ with the learner's tools
                                      (--instructor: the whole course with nbgrader's instructor tools)
    course workspace                  copy new released notebooks into work/ (never overwrites)
    course progress [NAME ...]        run your notebooks in work/ and show what passes, what is next
    course bench [--suite]            the speed figures against their budgets: each solution
                                      notebook, course progress, course grade vs plain nbgrader
                                      and vs nbclient; --suite also times `make test` from a clone
    course grade ASSIGNMENT [--course DIR] [--jobs N] [--db URL] [--shard i/n]
                                      grade every submission in DIR/submitted/ (parallel, survives
                                      hostile notebooks); writes the gradebook, feedback/, and
                                      grading/ASSIGNMENT/ (grades.csv, grading-report.csv, the class
                                      report) and grading/grades.csv (every assignment so far);
                                      --shard i/n: only shard i of n, for several machines grading
                                      into one PostgreSQL gradebook (--db)
    course report ASSIGNMENT [--course DIR] [--db URL]
                                      class report from the gradebook: pass rate per exercise,
                                      score distribution (grading/ASSIGNMENT/class-report.csv, .png),
                                      and grades.csv again (every shard's students)
    course grade-bench [ASSIGNMENT]   time batch grading against plain sequential nbgrader autograde
                                      on synthetic submissions (solution, stub, every mutant)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from .course import REPO, Course, grading_dir
from .lab import run_lab
from .lint import lint_course
from .progress import JOBS as PROGRESS_JOBS, collect, render
from .soundness import generate_release
from .workspace import sync_workspace, workspace_dir

NOTEBOOK_BUDGET = 30.0  # seconds for a solution notebook, top to bottom
TEST_CELL_BUDGET = 3.0  # seconds for one test cell
PROGRESS_BUDGET = 20.0  # seconds for `course progress` over all thirteen notebooks on 2 cores
GRADE_SPEEDUP = 2.0  # course grade's throughput over plain sequential nbgrader autograde
GRADE_OVERHEAD = 1.2  # course grade's time over nbclient running the same notebooks (the floor)
GRADE_JOBS = 3  # measured on 2 cores: 3 workers grade ~15% faster than 2 (kernels spend time waiting)
SUITE_BUDGET_MIN = 15.0  # minutes for `make test` from a fresh clone on 2 cores


def cmd_release(course: Course, assignments: list[str]) -> int:
    for assignment in assignments or course.assignments():
        generate_release(course, assignment, course.release / assignment)
        print(f"released notebooks/{assignment}")
    return 0


def cmd_workspace(course: Course) -> int:
    for message in sync_workspace(course):
        print(message)
    return 0


def cmd_progress(course: Course, names: list[str], folder: Path | None, jobs: int) -> int:
    root = folder or workspace_dir(course)
    if not root.exists():
        print(f"{root} does not exist yet: run `make lab` (or `course workspace`) first.")
        return 2
    available = sorted(p.parent.name for p in root.glob("*/*.ipynb") if p.stem == p.parent.name)
    chosen = [n for n in available if not names or any(n.startswith(x) for x in names)]
    if not chosen:
        print(f"No notebooks matching {names or 'anything'} in {root} (found: {', '.join(available) or 'none'}).")
        return 2
    results = collect([root / n / f"{n}.ipynb" for n in chosen], jobs)
    print(render(results))
    return 0  # the report ran: unfinished exercises are news, not an error (2 means it could not run)


def cmd_contract(course: Course, names: list[str]) -> int:
    from .soundness import check_contract

    chosen = [a for a in course.assignments() if not names or any(a.startswith(n) for n in names)]
    failed = 0
    for assignment in chosen:
        start = time.perf_counter()
        notes: list[str] = []
        problems = check_contract(course, assignment, notes)
        took = time.perf_counter() - start
        failed += bool(problems)
        print(f"{assignment}: {'OK' if not problems else f'{len(problems)} problem(s)'} ({took:.0f} s; {'; '.join(notes)})")
        for problem in problems:
            print("  " + problem)
    return 1 if failed else 0


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
    client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log lines (a TCP warning) are not the notebook's
    total = time.perf_counter() - start
    tests = [(d, nbgrader_meta(nb.cells[i])["grade_id"]) for i, d in durations.items() if is_test_cell(nb.cells[i])]
    slowest, slowest_id = max(tests, default=(0.0, "-"))
    return total, slowest, slowest_id


def cmd_bench(course: Course, suite: bool, assignment: str = "01_fastapi_overview", jobs: int = 3) -> int:
    """Every speed figure of the course in one run, each with the command that measures it."""
    from .bench import Figure, fresh_clone_suite, grading_figures, progress_seconds

    over = False
    print(f"{'notebook':32} {'run (s)':>8} {'slowest test cell (s)':>22}   budget: {NOTEBOOK_BUDGET:g} s / {TEST_CELL_BUDGET:g} s")
    for name in course.assignments():
        total, slowest, slowest_id = time_notebook(course.source_notebook(name))
        flag = "" if total <= NOTEBOOK_BUDGET and slowest <= TEST_CELL_BUDGET else "  OVER BUDGET"
        over |= bool(flag)
        print(f"{name:32} {total:8.1f} {slowest:14.2f} {slowest_id:>12}{flag}")
    print()
    figures = []
    seconds, count = progress_seconds(course)
    figures.append(Figure(f"course progress, {count} notebooks", f"{seconds:.1f} s", f"<= {PROGRESS_BUDGET:g} s",
                          seconds <= PROGRESS_BUDGET, "make progress (here on a fresh copy of notebooks/)"))
    sequential, graded, floor, submissions = grading_figures(course, assignment, jobs)
    figures.append(Figure(f"course grade vs plain nbgrader", f"{sequential / graded:.2f}x the throughput",
                          f">= {GRADE_SPEEDUP:g}x", sequential / graded >= GRADE_SPEEDUP,
                          f"course grade {assignment} --jobs {jobs} ({graded:.1f} s) vs nbgrader autograde "
                          f"{assignment} --force ({sequential:.1f} s), {submissions} submissions"))
    figures.append(Figure(f"course grade vs nbclient (floor)", f"{graded / floor:.2f}x the time", f"<= {GRADE_OVERHEAD:g}x",
                          graded / floor <= GRADE_OVERHEAD,
                          f"the same {submissions} notebooks run by nbclient alone, {jobs} at a time ({floor:.1f} s)"))
    if suite:
        setup, tests, code = fresh_clone_suite()
        figures.append(Figure("make test from a fresh clone", f"{tests / 60:.1f} min (exit {code})", f"<= {SUITE_BUDGET_MIN:g} min",
                              code == 0 and tests / 60 <= SUITE_BUDGET_MIN,
                              f"git clone; make setup ({setup / 60:.1f} min); make test"))
    for figure in figures:
        print(figure.line())
        over |= figure.met is False
    if not suite:
        print("(the suite from a fresh clone is measured by `course bench --suite`, which `make bench` runs)")
    return 1 if over else 0


def gradebook_url(folder: Path) -> str:
    """The course's gradebook: autograder/gradebook.db in this repository's layout, else gradebook.db."""
    if (folder / "autograder" / "nbgrader_config.py").exists():
        return f"sqlite:///{folder / 'autograder' / 'gradebook.db'}"
    return f"sqlite:///{folder / 'gradebook.db'}"


def shard_arg(text: str) -> tuple[int, int]:
    """--shard i/n, checked: argparse shows the message and exits with 2."""
    from .batch import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_grade(course: Course, assignment: str, folder: Path, jobs: int, db: str | None,
              shard: tuple[int, int] | None = None) -> int:
    from .batch import grade_batch, report_file

    db = db or gradebook_url(folder)
    result = grade_batch(folder, assignment, jobs=jobs, db_url=db, course=course, shard=shard)
    width = max((len(o.student) for o in result.outcomes), default=7)
    for o in result.outcomes:
        review = "  REVIEW: " + "; ".join(o.flags) if o.flags else ""
        notes = f"  ({'; '.join(o.notes)})" if o.notes else ""
        print(f"{o.student:{width}}  {o.status:8} {o.score:g}/{result.max_score:g}{review}{notes}")
    out = grading_dir(folder, assignment)
    part = f" (shard {shard[0]} of {shard[1]})" if shard else ""
    print(f"\n{len(result.outcomes)} submissions{part} graded in {result.seconds:.0f} s with {jobs} workers; "
          f"see {out / 'grades.csv'}, {report_file(folder, assignment, shard)} and {folder / 'feedback'}/")
    if shard:
        print(f"Other shards may still be grading: once all {shard[1]} have finished, "
              f"`course report {assignment} --db URL` writes the class report and grades.csv of everyone.")
    return cmd_report(course, assignment, folder, db)


def cmd_accept(course: Course, assignment: str, folder: Path, student: str, db: str | None) -> int:
    from .batch import accept

    try:
        score = accept(folder, assignment, student, db or gradebook_url(folder), course)
    except KeyError as exc:
        print(exc.args[0])
        return 2
    print(f"{student}: accepted after review; {assignment} now scores {score:g} in the gradebook and in "
          f"{grading_dir(folder, assignment)}/ (grades.csv, grading-report.csv)")
    return 0


def cmd_report(course: Course, assignment: str, folder: Path, db: str | None) -> int:
    from .report import write_assignment_grades, write_course_grades, write_report

    db = db or gradebook_url(folder)
    csv_path, png_path, table = write_report(db, assignment, course.source_notebook(assignment), grading_dir(folder, assignment))
    scores = write_assignment_grades(db, assignment, course.source_notebook(assignment), grading_dir(folder, assignment) / "grades.csv")
    grades = write_course_grades(db, grading_dir(folder) / "grades.csv")
    print(f"\n{table}\n\nclass report: {csv_path} and {png_path}\ngrades of {assignment}: {scores}\n"
          f"course grades, every assignment: {grades}")
    return 0


def cmd_grade_bench(course: Course, assignment: str, jobs: int) -> int:
    from .bench import grading_figures

    sequential, graded, floor, count = grading_figures(course, assignment, jobs)
    print(f"{count} submissions of {assignment}: plain sequential nbgrader autograde {sequential:.1f} s, "
          f"course grade with {jobs} workers {graded:.1f} s ({sequential / graded:.2f}x the throughput), "
          f"nbclient alone with {jobs} workers {floor:.1f} s (course grade takes {graded / floor:.2f}x the floor)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"] and not {"-h", "--help"} & set(argv[1:]):
        # Everything after `lab` except --instructor goes to JupyterLab as it is (argparse would take --port).
        rest = argv[1:]
        return run_lab(Course(), "--instructor" in rest, [a for a in rest if a != "--instructor"])
    parser = argparse.ArgumentParser(prog="course", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="JupyterLab for learners (--instructor: for instructors); other options go to JupyterLab")
    lab.add_argument("--instructor", action="store_true", help="the whole course, with nbgrader's instructor tools")
    release = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    release.add_argument("assignments", nargs="*")
    sub.add_parser("lint", help="metadata lint")
    contract = sub.add_parser("contract", help="the grading contract of notebooks through real nbgrader "
                              "(solution full, stub zero, mutants caught, alternatives full, exercises independent)")
    contract.add_argument("assignments", nargs="*", help="NN_slug or a prefix such as 05 (default: all)")
    sub.add_parser("workspace", help="copy new released notebooks into work/")
    progress = sub.add_parser("progress", help="what passes in your notebooks, and what to do next")
    progress.add_argument("names", nargs="*", help="notebooks to check, e.g. 01 or 01_fastapi_overview (default: all)")
    progress.add_argument("--dir", type=Path, default=None, help="folder of notebooks (default: work/)")
    progress.add_argument("--jobs", type=int, default=PROGRESS_JOBS, help="notebooks run at the same time")
    bench = sub.add_parser("bench", help="time the solution notebooks")
    bench.add_argument("--suite", action="store_true", help="also time the README's test command from a fresh clone")
    bench.add_argument("--assignment", default="01_fastapi_overview", help="the assignment graded for the grading figures")
    bench.add_argument("--jobs", type=int, default=GRADE_JOBS, help="grading workers")
    grade = sub.add_parser("grade", help="grade every submission of an assignment")
    grade.add_argument("assignment")
    grade.add_argument("--course", type=Path, default=REPO, help="the nbgrader course folder (default: this repository)")
    grade.add_argument("--jobs", type=int, default=GRADE_JOBS, help="grading workers (three on two cores: kernels often wait)")
    grade.add_argument("--db", default=None, help="gradebook URL (default: the course's gradebook); "
                       "postgresql+psycopg://user@host/db for one gradebook shared by several machines")
    grade.add_argument("--shard", type=shard_arg, default=None, metavar="i/n",
                       help="grade only shard i of n (1-based): the students whose zlib.crc32(name) %% n == i - 1")
    grade.add_argument("--accept", metavar="STUDENT", default=None,
                       help="release a submission held for review: it gets the scores it earned")
    report = sub.add_parser("report", help="class report: pass rate per exercise and score distribution")
    report.add_argument("assignment")
    report.add_argument("--course", type=Path, default=REPO)
    report.add_argument("--db", default=None)
    grade_bench = sub.add_parser("grade-bench", help="batch grading vs sequential nbgrader autograde")
    grade_bench.add_argument("assignment", nargs="?", default="01_fastapi_overview")
    grade_bench.add_argument("--jobs", type=int, default=GRADE_JOBS)
    args = parser.parse_args(argv)
    course = Course()
    if args.command == "release":
        return cmd_release(course, args.assignments)
    if args.command == "lint":
        return cmd_lint(course)
    if args.command == "contract":
        return cmd_contract(course, args.assignments)
    if args.command == "workspace":
        return cmd_workspace(course)
    if args.command == "progress":
        return cmd_progress(course, args.names, args.dir, args.jobs)
    if args.command == "grade":
        if args.accept:
            return cmd_accept(Course(args.course) if args.course != REPO else course, args.assignment, args.course, args.accept, args.db)
        return cmd_grade(Course(args.course) if args.course != REPO else course, args.assignment, args.course, args.jobs, args.db,
                         args.shard)
    if args.command == "report":
        return cmd_report(Course(args.course) if args.course != REPO else course, args.assignment, args.course, args.db)
    if args.command == "grade-bench":
        return cmd_grade_bench(course, args.assignment, args.jobs)
    return cmd_bench(course, args.suite, args.assignment, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
