"""The learner's workspace and the progress command."""

from __future__ import annotations

import subprocess
import sys

import nbformat

from coursekit.grading.mutants import load_mutants
from coursekit.grading.progress import collect, render
from coursekit.grading.workspace import sync_workspace, workspace_dir
from fixture_course import ASSIGNMENT, make_course


def test_workspace_copies_once_and_never_overwrites(tmp_path):
    course = make_course(tmp_path / "c")
    assert sync_workspace(course) == [f"copied notebooks/{ASSIGNMENT} to work/{ASSIGNMENT}"]
    mine = workspace_dir(course) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    mine.write_text(mine.read_text().replace("Write `double(x)`", "Write `double(x)` (my notes)"))
    assert sync_workspace(course) == []
    # The course updates the notebook: the learner's copy is kept, and they are told.
    release = course.release_notebook(ASSIGNMENT)
    release.write_text(release.read_text().replace("A two-exercise notebook.", "A two-exercise notebook, updated."))
    messages = sync_workspace(course)
    assert len(messages) == 1 and "has changed since you copied it; your work in work/00_demo is kept" in messages[0]
    assert "(my notes)" in mine.read_text()


def test_progress_reports_passed_exercises_points_and_what_is_next(tmp_path):
    course = make_course(tmp_path / "c")
    sync_workspace(course)
    work = workspace_dir(course)
    solution = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    mutant = next(m for m in load_mutants(course, ASSIGNMENT) if m.answer == "greet-answer")
    for name, nb in {"10_solved": solution, "11_half": mutant.apply(solution)}.items():
        (work / name).mkdir()
        nbformat.write(nb, str(work / name / f"{name}.ipynb"))
    stub = work / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    results = collect([stub, work / "10_solved" / "10_solved.ipynb", work / "11_half" / "11_half.ipynb"], jobs=2)
    table = render(results)
    by_name = {r.name: r for r in results}
    assert (by_name["00_demo"].passed, by_name["00_demo"].points) == (0, (0, 3))
    assert by_name["00_demo"].next_exercise.number == 1
    assert "Exercise not done yet" in by_name["00_demo"].next_exercise.message
    assert by_name["10_solved"].complete and by_name["10_solved"].points == (3, 3)
    assert (by_name["11_half"].passed, by_name["11_half"].next_exercise.grade_id) == (1, "greet-tests")
    assert "an empty name gets 'stranger'" in by_name["11_half"].next_exercise.message
    assert "done \u2714" in table and "hidden tests also count" in table


def test_progress_command_exit_status_and_unreadable_notebook(tmp_path):
    course = make_course(tmp_path / "c")
    sync_workspace(course)
    broken = workspace_dir(course) / "12_broken"
    broken.mkdir()
    (broken / "12_broken.ipynb").write_text("{ not json")
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit.grading.cli", "progress", "12", "--dir", str(workspace_dir(course))],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "12_broken" in proc.stdout and "not a readable notebook" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit.grading.cli", "progress", "99", "--dir", str(workspace_dir(course))],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "No notebooks matching ['99']" in proc.stdout
