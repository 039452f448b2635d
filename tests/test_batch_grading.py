"""Batch grading survives broken and hostile submissions and gives each a clear outcome."""

from __future__ import annotations

import csv

import nbformat
import pytest

from coursekit.grading.batch import grade_batch
from coursekit.grading.nbgrader import CellResult
from fixture_course import ASSIGNMENT, make_course
from hostile_submissions import TAMPERING, build


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch") / "course"
    course = make_course(root)
    solution = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    kinds = build(root / "submitted", ASSIGNMENT, solution, release)
    result = grade_batch(root, ASSIGNMENT, jobs=2, cell_timeout=3, shard_timeout=300, student_timeout=120, course=course)
    return root, kinds, {o.student: o for o in result.outcomes}


def test_every_submission_gets_an_outcome(graded):
    root, kinds, outcomes = graded
    assert set(outcomes) == set(kinds)
    report = {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grading-report.csv"))}
    assert set(report) == set(kinds)


def scores(outcome):
    return {g: c.score for g, c in outcome.cells.items()}


HONEST = ("good-1", "good-2", "extra-cells", "deleted-test-cell", "wrongly-named", "duplicate-cells", "huge-output",
          "honest-names")


def test_good_and_stub_are_graded_normally_and_never_held(graded):
    _, _, outcomes = graded
    for student in HONEST:
        assert scores(outcomes[student]) == {"double-tests": 1, "greet-tests": 2}, (student, outcomes[student])
    assert scores(outcomes["stub"]) == {"double-tests": 0, "greet-tests": 0}
    for student in (*HONEST, "stub", "endless-loop", "sys-exit", "edited-test-cell", "changed-cell-type"):
        assert outcomes[student].status == "graded", (student, outcomes[student].flags)


def test_broken_answers_cost_only_their_exercise(graded):
    _, _, outcomes = graded
    for student in ("endless-loop", "sys-exit", "edited-test-cell"):
        assert scores(outcomes[student]) == {"double-tests": 0, "greet-tests": 2}, (student, outcomes[student])
    assert "double-tests" in " ".join(outcomes["endless-loop"].notes)


def test_a_timeout_says_what_happened_and_what_to_look_for(graded):
    root, _, _ = graded
    page = (root / "feedback" / "endless-loop" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "CellTimeoutError: this cell was stopped after 3 s, the time limit of every cell" in page
    assert "a loop that never ends" in page and "an `await` without a time limit" in page


def test_unreadable_and_missing_submissions_score_zero_with_a_reason(graded):
    _, _, outcomes = graded
    assert outcomes["invalid-json"].status == "invalid" and outcomes["invalid-json"].score == 0
    assert outcomes["missing"].status == "missing" and outcomes["missing"].score == 0
    assert outcomes["kernel-killed"].score == 0 and outcomes["kernel-killed"].flags


def test_structural_changes_are_reported(graded):
    _, _, outcomes = graded
    assert any("deleted" in n for n in outcomes["deleted-test-cell"].notes)
    assert any("test cell double-tests was edited" in n for n in outcomes["edited-test-cell"].notes)
    assert any("changed from code to markdown" in n for n in outcomes["changed-cell-type"].notes)
    assert any("appears 2 times" in n for n in outcomes["duplicate-cells"].notes)
    assert not any("edited" in n for n in outcomes["stub"].notes)
    assert any("named homework.ipynb" in n for n in outcomes["wrongly-named"].notes)


@pytest.mark.parametrize("student", [*TAMPERING, "kernel-killed"])
def test_tampering_is_held_for_review_with_zero_points(graded, student):
    root, _, outcomes = graded
    outcome = outcomes[student]
    assert outcome.status == "held", (student, outcome.status, outcome.flags, scores(outcome))
    assert outcome.score == 0 and all(c.score == 0 for c in outcome.cells.values())
    assert any(f.startswith(("tampering suspected:", "integrity check:")) for f in outcome.flags), outcome.flags
    report = {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grading-report.csv"))}
    assert report[student]["status"] == "held" and report[student]["review"] == "yes" and report[student]["score"] == "0"
    assert report[student]["flags"]
    grades = {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grades.csv"))}
    assert grades[student]["score"] == "0"
    page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "held for review" in page


def test_some_reasons_are_specific(graded):
    _, _, outcomes = graded
    reasons = {s: " ".join(outcomes[s].flags) for s in TAMPERING}
    assert "runs code from a string (exec)" in reasons["exec-string"]
    assert "rebinds 'expect', which the test cells use" in reasons["rebind-name"]
    assert "data/ files were changed: fake_llm.json" in reasons["overwrite-data"]
    assert "the integrity check did not run after the tests" in reasons["cell-rewriter"]  # it rewrote that cell too
    assert "defines __eq__" in reasons["always-equal"]


def test_the_instructor_can_accept_a_held_submission(graded):
    from nbgrader.api import Gradebook

    from coursekit.grading.batch import accept

    root, _, outcomes = graded
    # tamper-globals rebinds a helper the fixture's test cells import again: it earned 2 (greet) honestly.
    score = accept(root, ASSIGNMENT, "tamper-globals")
    assert score == 2
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_submission(ASSIGNMENT, "tamper-globals").score == 2
    report = {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grading-report.csv"))}
    assert report["tamper-globals"]["status"] == "accepted" and report["tamper-globals"]["score"] == "2"
    assert {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grades.csv"))}["tamper-globals"]["score"] == "2"
    with pytest.raises(KeyError, match="no held submission"):
        accept(root, ASSIGNMENT, "tamper-globals")
    # What the later tests compare with the gradebook: the accepted scores.
    outcomes["tamper-globals"].cells = {"double-tests": CellResult(0.0, 1.0), "greet-tests": CellResult(2.0, 2.0)}


def test_gradebook_and_grades_csv_agree(graded):
    from nbgrader.api import Gradebook

    root, _, outcomes = graded
    rows = {row["student"]: row for row in csv.DictReader(open(root / "grading" / ASSIGNMENT / "grades.csv"))}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student, outcome in outcomes.items():
            assert float(rows[student]["score"]) == outcome.score
            assert gb.find_submission(ASSIGNMENT, student).score == outcome.score


def test_feedback_shows_outcomes_but_not_hidden_tests(graded):
    root, _, _ = graded
    page = (root / "feedback" / "edited-test-cell" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    # The wrong double(x) = x + 2 passes the visible check (2 + 2 == 4) and fails a hidden one:
    # the page gives the hidden check's message, never its code.
    assert "0 / 1" in page and "double(-3) should be -6" in page
    assert "expect(double(-3)" not in page and "BEGIN HIDDEN TESTS" not in page
    page = (root / "feedback" / "good-1" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "3 / 3" in page


def test_class_report_shows_pass_rates_and_the_distribution(graded):
    from coursekit.grading.report import write_report

    root, _, outcomes = graded
    course_source = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    csv_path, png_path, table = write_report(f"sqlite:///{root / 'gradebook.db'}", ASSIGNMENT, course_source, root / "grading" / ASSIGNMENT)
    rows = {row["test_cell"]: row for row in csv.DictReader(open(csv_path))}
    expected = sum("greet-tests" in o.cells and o.cells["greet-tests"].score >= 2 for o in outcomes.values()) / len(outcomes)
    assert float(rows["greet-tests"]["pass_rate"]) == pytest.approx(expected, abs=0.01)
    assert float(rows["double-tests"]["pass_rate"]) < float(rows["greet-tests"]["pass_rate"])
    assert table.splitlines()[1].split()[2] == "double-tests"  # hardest first
    assert png_path.stat().st_size > 10_000


def test_grade_command_grades_a_course_folder_and_reports(tmp_path):
    import subprocess
    import sys

    root = tmp_path / "course"
    course = make_course(root)
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    folder = root / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(release, str(folder / f"{ASSIGNMENT}.ipynb"))
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit.grading.cli", "grade", ASSIGNMENT, "--course", str(root)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ada" in proc.stdout and "0/3" in proc.stdout and "class report:" in proc.stdout
    assert (root / "gradebook.db").exists() and (root / "grading" / ASSIGNMENT / "class-report.png").exists()


def test_an_assignment_is_generated_once_per_version_of_its_sources(tmp_path, monkeypatch):
    import shutil

    from coursekit.grading import batch
    from coursekit.grading.nbgrader import Scratch

    course = make_course(tmp_path / "course")
    generated = []
    generate = Scratch.generate
    monkeypatch.setattr(Scratch, "generate", lambda self: generated.append(self.assignment) or generate(self))
    copies = [batch._template(course, ASSIGNMENT), batch._template(course, ASSIGNMENT)]
    try:
        assert len(generated) == 1, "the second batch should copy the generated assignment, not generate it again"
        release = [(c / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() for c in copies]
        assert copies[0] != copies[1] and release[0] == release[1]  # each caller gets its own copy of the same thing
        source = course.source_notebook(ASSIGNMENT)
        source.write_text(source.read_text() + "\n")  # a new version of the source: generated again
        copies.append(batch._template(course, ASSIGNMENT))
        (source.parent / "notes.txt").write_text("a file beside the notebook is part of the assignment too")
        copies.append(batch._template(course, ASSIGNMENT))
        assert len(generated) == 3
        assert len(list((tmp_path / "course" / "grading" / ".templates").iterdir())) == 3
    finally:
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)
