"""The learner's workspace and the progress command."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import nbformat

from commands import start_jupyterlab, stop
from coursekit.grading.course import REPO
from coursekit.grading.lab import LEARNER_CONFIG, lab_command
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
    # A report that ran exits 0 (unfinished work is not a crash under make); its output is the report alone.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12_broken" in proc.stdout and "not a readable notebook" in proc.stdout
    assert "WARNING" not in proc.stdout + proc.stderr, "the kernels' own log lines should not reach the learner"
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit.grading.cli", "progress", "99", "--dir", str(workspace_dir(course))],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "No notebooks matching ['99']" in proc.stdout


# -- make lab / make instructor --------------------------------------------------------------------

def test_lab_command_runs_as_root_and_passes_options_through(tmp_path):
    course = make_course(tmp_path / "c")
    learner = lab_command(course, extra=["--port", "8899", "--no-browser"])
    assert learner.argv[-3:] == ["--port", "8899", "--no-browser"], "options from ARGS go to JupyterLab last, unchanged"
    assert f"--ServerApp.root_dir={workspace_dir(course)}" in learner.argv and learner.cwd == workspace_dir(course)
    assert learner.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(LEARNER_CONFIG)
    assert ("--allow-root" in learner.argv) == (os.geteuid() == 0), "JupyterLab refuses to start as root without --allow-root"
    instructor = lab_command(course, instructor=True)
    assert f"--ServerApp.root_dir={course.root}" in instructor.argv
    assert (instructor.cwd / "nbgrader_config.py").is_file(), "formgrader reads nbgrader_config.py from the server's folder"
    assert str(LEARNER_CONFIG) not in instructor.env.get("JUPYTER_CONFIG_PATH", "")
    make = subprocess.run(["make", "-n", "lab", "instructor", 'ARGS=--port 8899 --no-browser'], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert "course lab --port 8899 --no-browser" in make.stdout, make.stdout + make.stderr
    assert "course lab --instructor --port 8899 --no-browser" in make.stdout, make.stdout


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_learners_see_learner_tools_and_instructors_see_theirs(tmp_path):
    course = make_course(tmp_path / "c")
    sync_workspace(course)
    for who in ("learner", "instructor"):
        command = lab_command(course, instructor=(who == "instructor"))
        logs = tmp_path / who
        logs.mkdir()
        argv = command.argv + ["--no-browser", "--ServerApp.token=t", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        server, base = start_jupyterlab(argv, command.env, "t", logs, cwd=command.cwd)
        try:
            status, page = _get(f"{base}/lab?token=t")
            formgrader, _ = _get(f"{base}/formgrader?token=t")
            validate, _ = _get(f"{base}/assignments/validate?token=t")  # exists for both (POST only)
        finally:
            stop(server)
        text = "".join(log.read_text() for log in sorted(logs.glob("*.log")))
        hidden = {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list"}
        assert status == 200
        assert "Running as root is not recommended" not in text
        if who == "learner":
            assert all(name in page for name in hidden), "the learner's lab should turn off nbgrader's instructor tools"
            assert formgrader == 404, "the learner's server should not serve formgrader"
            assert "No nbgrader_config.py file found" not in text, text[-2000:]
        else:
            assert not any(name in page for name in hidden), "the instructor's lab keeps every nbgrader tool"
            assert formgrader in (200, 302), f"formgrader answered {formgrader}"
        assert validate != 404, "Validate (nbgrader's validate_assignment) should be served to both"
