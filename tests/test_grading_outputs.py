"""What an instructor's grading leaves behind, and nbgrader's own commands on the course.

A temporary course laid out like this repository (autograder/nbgrader_config.py, its gradebook
beside it, .venv) with two assignments: grading writes one git-ignored folder per assignment and
a course-wide grades table; the README's plain-nbgrader commands work as written; nbgrader's own
feedback never shows hidden tests; the score histogram counts whole students.
"""

from __future__ import annotations

import copy
import csv
import html
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import nbformat
import pytest

from coursekit.grading.authoring import save
from coursekit.grading.batch import grade_batch
from coursekit.grading.course import REPO
from coursekit.grading.lint import nbgrader_meta
from coursekit.grading.soundness import generate_release
from fixture_course import ASSIGNMENT, make_course

SECOND = "00_second"
OUTPUTS = ("grades.csv", "grading-report.csv", "class-report.csv", "class-report.png", "held.json")
HIDDEN_CODE = ("BEGIN HIDDEN TESTS", "double(-3) ==", 'greet("") ==')


def _with(nb, grade_id: str, source: str):
    nb = copy.deepcopy(nb)
    next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id).source = source
    return nb


def _submit(root: Path, student: str, assignment: str, nb) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{assignment}.ipynb"))


def _course_cli(root: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "coursekit.grading.cli", *args, "--course", str(root)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    """Two assignments graded: 00_demo by grade_batch and `course report` (ada, bob, cy, dee), then 00_second
    by `course grade` (only ada submitted it)."""
    root = tmp_path_factory.mktemp("outputs") / "course"
    course = make_course(root)
    solution = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    save(solution, course.source_notebook(SECOND))
    generate_release(course, SECOND, course.release / SECOND)
    # Laid out like this repository: the course's own config finds the course from autograder/.
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", root / "autograder" / "nbgrader_config.py")
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    _submit(root, "ada", ASSIGNMENT, solution)
    _submit(root, "bob", ASSIGNMENT, release)  # every test fails: tracebacks through hidden tests
    _submit(root, "cy", ASSIGNMENT, _with(solution, "greet-answer",  # fails in a hidden test with a traceback
            "def greet(name):\n    if not name:\n        raise ValueError('no name')\n    return f'Hello, {name}!'"))
    _submit(root, "dee", ASSIGNMENT, _with(solution, "double-tests", "print('all good')"))  # edits a test cell
    _submit(root, "ada", SECOND, solution)
    grade_batch(root, ASSIGNMENT, jobs=2, db_url=f"sqlite:///{root / 'autograder' / 'gradebook.db'}", course=course)
    _course_cli(root, "report", ASSIGNMENT)
    _course_cli(root, "grade", SECOND)
    return root


def test_each_assignment_has_its_own_outputs_folder(course_dir):
    for assignment in (ASSIGNMENT, SECOND):
        folder = course_dir / "grading" / assignment
        assert sorted(p.name for p in folder.iterdir()) == sorted(OUTPUTS), assignment
        for table in ("grades.csv", "grading-report.csv"):
            assert {row["student"] for row in csv.DictReader(open(folder / table))} == {"ada", "bob", "cy", "dee"}
    status = {row["student"]: row["status"] for row in csv.DictReader(open(course_dir / "grading" / SECOND / "grading-report.csv"))}
    assert status == {"ada": "graded", "bob": "missing", "cy": "missing", "dee": "missing"}
    assert not (course_dir / "grades.csv").exists() and not (course_dir / "grading-report.csv").exists()
    assert not (course_dir / "reports").exists()


def test_the_course_grades_table_keeps_every_assignment(course_dir):
    rows = {row["student"]: row for row in csv.DictReader(open(course_dir / "grading" / "grades.csv"))}
    assert list(rows["ada"]) == ["student", ASSIGNMENT, SECOND, "total"]
    assert rows["ada"] == {"student": "ada", ASSIGNMENT: "3", SECOND: "3", "total": "6"}
    assert rows["cy"] == {"student": "cy", ASSIGNMENT: "1", SECOND: "0", "total": "1"}
    _course_cli(course_dir, "report", ASSIGNMENT)  # rebuilt, the same
    assert {row["student"]: row for row in csv.DictReader(open(course_dir / "grading" / "grades.csv"))} == rows


def test_everything_grading_writes_is_ignored_by_git(course_dir):
    content = ("solutions/", "notebooks/", "autograder/mutants/", "autograder/nbgrader_config.py", ".venv")
    written = sorted(str(p.relative_to(course_dir)) for p in course_dir.rglob("*")
                     if p.is_file() and not str(p.relative_to(course_dir)).startswith(content))
    assert any(p.startswith("grading/") for p in written) and any(p.startswith("feedback/") for p in written)
    # Would these paths be ignored in this repository? (check-ignore lists the ones that are)
    proc = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(written),
                          capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == written, sorted(set(written) - set(proc.stdout.split()))


def _readme_plain_nbgrader_block() -> str:
    """The bash block of the README's instructor section that runs plain nbgrader."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## For instructors (nbgrader)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return next(b for b in blocks if "nbgrader autograde" in b)


def test_the_readme_plain_nbgrader_commands_work_as_written(course_dir):
    script = _readme_plain_nbgrader_block().replace("01_fastapi_overview", ASSIGNMENT)
    # A fresh shell: neither the virtual environment nor anything else on PATH.
    env = {"HOME": os.environ.get("HOME", str(course_dir)), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    start = time.time()
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=course_dir, env=env, capture_output=True, text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    for student in ("ada", "bob", "cy", "dee"):  # graded again although `course grade` had graded them
        assert (course_dir / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_mtime > start, student
    # Hidden tests are put back quietly; only the test cell dee really edited is reported.
    assert re.findall(r"Attribute '(\w+)' for cell ([\w-]+) has changed", log) == [("checksum", "double-tests")], log[-3000:]


def _visible_text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_nbgrader_generate_feedback_never_shows_hidden_tests(course_dir):
    """nbgrader's own command, as an instructor runs it, over the feedback `course grade` wrote."""
    proc = subprocess.run([str(course_dir / ".venv" / "bin" / "nbgrader"), "generate_feedback", ASSIGNMENT, "--force"],
                          cwd=course_dir / "autograder", capture_output=True, text=True, timeout=600,
                          env=os.environ | {"PATH": f"{course_dir / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not recognized" not in proc.stdout + proc.stderr
    for student in ("ada", "bob", "cy", "dee"):
        page = course_dir / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        text = _visible_text(page)
        assert 'expect(greet("Ada")' in text, student  # nbgrader's page: the whole notebook, visible tests included
        leaked = [code for code in HIDDEN_CODE if code in text]
        assert not leaked, (student, leaked)
        assert "_ci_" not in text and "integrity" not in text.lower(), f"{student}: the grader's integrity cells are on the page"
    # What failed is still said: the error, without the traceback that quotes the hidden lines.
    assert "ValueError: no name" in _visible_text(course_dir / "feedback" / "cy" / ASSIGNMENT / f"{ASSIGNMENT}.html")


@pytest.mark.parametrize("max_total, students", [(3, 4), (26, 30), (120, 200)])
def test_score_histogram_counts_whole_students_with_readable_labels(max_total, students):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.grading.report import plot_score_distribution

    totals = [(i * 7) % (max_total + 1) for i in range(students)]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    try:
        plot_score_distribution(ax, totals, max_total)
        fig.canvas.draw()
        low, high = ax.get_xlim()
        xticks = [t for t in ax.get_xticks() if low <= t <= high]
        yticks = list(ax.get_yticks())
    finally:
        plt.close(fig)
    assert all(float(t).is_integer() for t in yticks), yticks  # no 0.25 students
    assert all(float(t).is_integer() for t in xticks), xticks
    assert 3 <= len(xticks) <= 16, xticks  # labels never run together
    assert xticks[0] == 0 and xticks[-1] <= max_total
