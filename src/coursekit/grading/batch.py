"""Batch grading: every submission of an assignment through real nbgrader, in parallel,
surviving broken and hostile submissions.

    course grade 01_fastapi_overview --course /path/to/course --jobs 2

The course folder is an nbgrader course (`solutions/` source, `notebooks/` release,
`submitted/<student>/<assignment>/`). The pipeline:

1. Preflight, per submission (cheap, in this process): the notebook is found (a wrongly
   named one is renamed and flagged), parsed (invalid JSON is an outcome, not a crash),
   compared with the source (deleted, duplicated or retyped graded cells are reported;
   nbgrader restores them), and every cell the learner wrote or changed is scanned as a
   syntax tree for tampering (integrity.py). Each submission gets grading's integrity cells,
   first and last, keyed by its own nonce.
2. Autograde, in parallel: each worker is a scratch nbgrader course with its own
   gradebook, and grades a shard of students in one `nbgrader autograde` call. If that
   call fails or overruns, its students are graded again one at a time, so one
   submission that kills or hangs nbgrader costs only itself.
3. Merge, one student at a time on one thread, each worker's students as soon as that worker
   finishes (nbgrader generated the template while step 1 ran): scores are written into the
   course's gradebook through nbgrader's API (one transaction per student), autograded
   notebooks are copied, and each student gets a feedback page that shows every exercise's
   outcome and failure message but not the (hidden) test code. grading/ASSIGNMENT/grades.csv
   and grading-report.csv summarise the batch, and grading/grades.csv has every student's
   total for every assignment graded so far.

A submission that the scan or the integrity report finds tampering in is **held**: every
exercise scores 0 (gradebook and grades.csv) and grading-report.csv says why, until the
instructor looks and runs `course grade ASSIGNMENT --accept STUDENT`, which puts the scores
it earned back (kept in grading/ASSIGNMENT/held.json meanwhile).

Several machines can grade one assignment into one shared gradebook (a PostgreSQL URL):

    course grade 01_fastapi_overview --shard 2/3 --db postgresql+psycopg://grader@dbhost/course

Shard i of n grades the students whose name hashes to it, `zlib.crc32(name as UTF-8) % n == i - 1`:
a rule of the name alone, so machines agree whatever set of submissions each one sees, and the
shards are disjoint and cover everyone. Setting up the gradebook (tables, the assignment and its
cells) is done under a PostgreSQL advisory lock, so shards starting together do not race; students'
rows never collide, since each student is in one shard. grading/ASSIGNMENT/grades.csv and the class
report are written from the gradebook (every shard's students); what only this run knows goes to
per-shard files, grading-report-shard-2-of-3.csv and held-shard-2-of-3.json.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import nbformat

from . import integrity
from .course import Course, grading_dir
from .lint import exercises, is_test_cell, nbgrader_meta
from .nbgrader import NBGRADER, CellResult, Scratch, _cell_errors, ensure_bin_on_path, nbgrader_env
from .report import write_assignment_grades, write_course_grades
from .soundness import CELL_TIMEOUT

@dataclass
class Outcome:
    student: str
    status: str = "graded"  # graded | missing | invalid | failed
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # reasons to review by hand
    cells: dict[str, CellResult] = field(default_factory=dict)
    findings: list[integrity.Finding] = field(default_factory=list)  # what the syntax-tree scan found
    nonce: str = ""                                                 # keys this submission's integrity report
    held: dict[str, float] = field(default_factory=dict)            # the scores it earned, while held

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells.values())


# -- shards: several machines, one gradebook ---------------------------------------------
Shard = tuple[int, int]  # (i, n): shard i of n, numbered from 1


def parse_shard(text: str) -> Shard:
    """`i/n` -> (i, n); ValueError saying what is wrong."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match:
        raise ValueError(f"a shard is i/n, such as 2/3 for the second of three, not {text!r}")
    i, n = int(match[1]), int(match[2])
    if not 1 <= i <= n:
        raise ValueError(f"shard {text}: i must be between 1 and n (shards are numbered from 1)")
    return i, n


def in_shard(student: str, shard: Shard | None) -> bool:
    """Whether shard i of n grades `student`: crc32 of the name (UTF-8) modulo n is i - 1.

    It depends on the name alone, never on which other submissions a machine can see."""
    if shard is None:
        return True
    i, n = shard
    return zlib.crc32(student.encode()) % n == i - 1


def shard_suffix(shard: Shard | None) -> str:
    """What a shard's own files are named with: grading-report-shard-2-of-3.csv; nothing without shards."""
    return f"-shard-{shard[0]}-of-{shard[1]}" if shard else ""


SETUP_LOCK = 0x636F7572  # the advisory lock of gradebook set-up, one number for every machine


@contextmanager
def _setup_lock(db_url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock, so that one machine at a time creates the gradebook's tables,
    course, assignment and cells (nbgrader's find-then-add would otherwise hit unique constraints).
    Other databases: nothing (one machine grades into an SQLite file)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if make_url(db_url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:  # the lock is the session's: closing the connection releases it too
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})
    finally:
        engine.dispose()


# -- 1. preflight ----------------------------------------------------------------------
def preflight(course_dir: Path, assignment: str, student: str, source: nbformat.NotebookNode,
              released: nbformat.NotebookNode) -> tuple[Outcome, nbformat.NotebookNode | None]:
    """Find, read, compare and scan one submission against the assignment's solution (`source`) and
    what the learner was given (`released`: test cells without their hidden part), read once a batch."""
    outcome = Outcome(student)
    folder = course_dir / "submitted" / student / assignment
    expected = folder / f"{assignment}.ipynb"
    if not expected.exists():
        others = sorted(folder.glob("*.ipynb")) if folder.exists() else []
        if len(others) != 1:
            outcome.status = "missing"
            outcome.notes.append(f"no {assignment}.ipynb in the submission" + (f" (found {', '.join(p.name for p in others)})" if others else ""))
            return outcome, None
        outcome.notes.append(f"the notebook was named {others[0].name}; graded as {expected.name}")
        outcome.flags.append("wrongly named notebook")
        expected = others[0]
    try:
        nb = nbformat.read(str(expected), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is an outcome
        outcome.status = "invalid"
        outcome.notes.append(f"not a valid notebook: {str(exc).splitlines()[0][:200]}")
        return outcome, None
    source_cells = {nbgrader_meta(c)["grade_id"]: c for c in source.cells if nbgrader_meta(c).get("grade_id")}
    released_cells = {nbgrader_meta(c)["grade_id"]: c for c in released.cells if nbgrader_meta(c).get("grade_id")}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id:
            seen[grade_id] = seen.get(grade_id, 0) + 1
            original = source_cells.get(grade_id)
            if original is not None and original.cell_type != cell.cell_type:
                outcome.notes.append(f"cell {grade_id} was changed from {original.cell_type} to {cell.cell_type}; restored")
            given = released_cells.get(grade_id)
            if given is not None and is_test_cell(given) and cell.source != given.source:
                outcome.notes.append(f"test cell {grade_id} was edited; the original was restored")
    for grade_id in source_cells:
        if grade_id not in seen:
            outcome.notes.append(f"cell {grade_id} was deleted; restored for grading")
    # Scanned before duplicates are demoted: a copy of an answer cell may define what that answer defines.
    outcome.findings = integrity.scan(nb, source, released)
    for grade_id, count in seen.items():
        if count > 1:
            # nbgrader stops on duplicate grade ids (jupyter/nbgrader#1083): keep the last copy graded,
            # and let the earlier copies run as plain cells, so no code is lost.
            copies = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
            for cell in copies[:-1]:
                del cell.metadata["nbgrader"]
            outcome.notes.append(f"cell {grade_id} appears {count} times; the last copy was graded")
    extra = sum(1 for c in nb.cells if not nbgrader_meta(c).get("grade_id")) - sum(1 for c in source.cells if not nbgrader_meta(c).get("grade_id"))
    if extra > 0:
        outcome.notes.append(f"{extra} extra cell(s) added")
    return outcome, nb


# -- 2. autograde in scratch courses ------------------------------------------------------
def run_in_own_group(command: list[str], cwd: Path, timeout: float) -> tuple[bool, str]:
    """Run a command in its own process group; on timeout kill the whole group (kernels included)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=nbgrader_env(), stdout=out, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return False, f"stopped after running past {timeout:g} s"
        finally:
            try:  # kernels that outlive nbgrader (a hostile notebook may fork) go too
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.seek(0)
        return code == 0, out.read()[-4000:]


def write_submissions(course_dir: Path, assignment: str, submissions: dict[str, nbformat.NotebookNode]) -> None:
    """Each notebook where nbgrader looks for it: course_dir/submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb."""
    for student, nb in submissions.items():
        folder = course_dir / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{assignment}.ipynb"))


class Worker:
    """A scratch nbgrader course (own gradebook) that grades shards of submissions."""

    def __init__(self, course: Course, assignment: str, template: Path, cell_timeout: int | None) -> None:
        self.assignment = assignment
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-"))
        shutil.copytree(template, self.root, dirs_exist_ok=True)
        if cell_timeout is not None:
            with open(self.root / "nbgrader_config.py", "a") as f:
                f.write(f"c.Execute.timeout = {cell_timeout}\n")

    def grade(self, submissions: dict[str, nbformat.NotebookNode], timeout: float) -> tuple[bool, str]:
        """Autograde the shard in one nbgrader call; (finished cleanly, log tail)."""
        shutil.rmtree(self.root / "submitted", ignore_errors=True)
        write_submissions(self.root, self.assignment, submissions)
        return run_in_own_group([*NBGRADER, "autograde", self.assignment, "--force"], self.root, timeout)

    def results(self, student: str) -> tuple[dict[str, CellResult], Path | None]:
        from nbgrader.api import Gradebook, MissingEntry

        graded = self.root / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"
        cells: dict[str, CellResult] = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            try:
                submission = gb.find_submission(self.assignment, student)
            except MissingEntry:
                return {}, None
            if not graded.exists():
                return {}, None
            errors = _cell_errors(graded)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = CellResult(float(grade.score or 0), float(grade.max_score), errors.get(grade.name, ""))
        return cells, graded

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


TEMPLATES_KEPT = 32  # generated assignments kept in a course's grading/.templates/, the most recently used


def _template_key(course: Course, assignment: str) -> str:
    """What a generated assignment depends on: the assignment's source files, the course's nbgrader
    configuration (its path and text) and the versions of nbgrader and nbformat."""
    import nbgrader

    digest = hashlib.sha256(f"nbgrader {nbgrader.__version__}, nbformat {nbformat.__version__}\n{course.nbgrader_config}\n".encode())
    digest.update(course.nbgrader_config.read_bytes())
    folder = course.solutions / assignment
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not {".ipynb_checkpoints", "__pycache__"} & set(path.relative_to(folder).parts):
            digest.update(f"\n{path.relative_to(folder).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _template(course: Course, assignment: str) -> Path:
    """A scratch course with the assignment generated (gradebook included), copied by each worker;
    the caller removes it.

    nbgrader generates an assignment once per version of its sources (see _template_key); a copy is
    kept in the course's grading/.templates/, and later batches, shards and re-runs copy it instead of
    waiting for generate_assignment again (4-5 s before any submission can start)."""
    store = grading_dir(course.root) / ".templates"
    cached = store / _template_key(course, assignment)
    if (cached / "gradebook.db").is_file():
        os.utime(cached)  # recently used: pruning keeps it
        copy = Path(tempfile.mkdtemp(prefix="course-grade-template-"))
        shutil.copytree(cached, copy, dirs_exist_ok=True)
        return copy
    scratch = Scratch(course, assignment)
    try:
        scratch.generate()
    except BaseException:
        scratch.close()
        raise
    store.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store))
    shutil.copytree(scratch.root, incoming, dirs_exist_ok=True)
    try:
        incoming.rename(cached)  # atomic: of two batches generating at once, one copy is kept, whole
    except OSError:  # the other batch's copy is already there
        shutil.rmtree(incoming, ignore_errors=True)
    _prune(store)
    return scratch.root


def _prune(store: Path) -> None:
    """Keep the TEMPLATES_KEPT most recently used generated assignments."""
    kept = []
    for path in store.iterdir():
        try:
            if not path.name.startswith(".incoming-"):
                kept.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # another batch pruned it meanwhile
            pass
    for _, path in sorted(kept, reverse=True)[TEMPLATES_KEPT:]:
        shutil.rmtree(path, ignore_errors=True)


# -- 3. merge, feedback and reports ----------------------------------------------------------
# What `nbgrader submit` puts beside the notebook, and nbgrader's later steps read: the time of the
# submission (the gradebook's, lateness) and the secret that names the feedback `release_feedback` publishes.
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


def _submission_files(course_dir: Path, assignment: str, student: str) -> list[Path]:
    folder = course_dir / "submitted" / student / assignment
    return [folder / name for name in SUBMISSION_FILES if (folder / name).is_file()]


def _submitted_at(files: list[Path]) -> str | None:
    """The submission's time from its timestamp.txt, if it has a readable one."""
    from nbgrader.utils import parse_utc

    for path in files:
        if path.name == "timestamp.txt":
            text = path.read_text().strip()
            try:
                return text if parse_utc(text) else None
            except (ValueError, OverflowError):
                return None
    return None


def _merge_into_gradebook(db_url: str, assignment: str, outcome: Outcome, submitted_at: str | None = None) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        _merge_outcome(gb, assignment, outcome, submitted_at)


def _merge_outcome(gb, assignment: str, outcome: Outcome, submitted_at: str | None = None) -> None:
    """One student's scores into an open gradebook, in one transaction."""
    # nbgrader's own API trips SQLAlchemy's autoflush warnings when it creates a submission.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gb.update_or_create_student(outcome.student)
        gb.update_or_create_submission(assignment, outcome.student, **({"timestamp": submitted_at} if submitted_at else {}))
        submission = gb.find_submission_notebook(assignment, assignment, outcome.student)
        for grade in submission.grades:  # a submission that could not be run scores 0 everywhere
            result = outcome.cells.get(grade.name)
            grade.auto_score = result.score if result else 0.0
            grade.needs_manual_grade = False
        gb.db.commit()


def explain(error: str, cell_timeout: int = CELL_TIMEOUT) -> str:
    """The failure message for a learner: a timeout says what happened and what to look for."""
    if error.startswith("CellTimeoutError"):
        return (f"CellTimeoutError: this cell was stopped after {cell_timeout} s, the time limit of every cell. "
                "Something in it never finished: look for a loop that never ends (a condition that never "
                "becomes false, a `while True` without a `break`), or an `await` without a time limit (a "
                "request, queue or stream that never answers: give it one with `asyncio.wait_for`).")
    return error


def _feedback_page(assignment: str, outcome: Outcome, pairs: list[tuple[str, str, float]], cell_timeout: int = CELL_TIMEOUT) -> str:
    rows = []
    for number, (_, test_id, points) in enumerate(pairs, start=1):
        result = outcome.cells.get(test_id)
        score = result.score if result else 0.0
        if outcome.status == "held":
            message = "held for review: your instructor will look at this submission before it is graded"
        elif result is None:
            message = "not graded: " + (outcome.notes[0] if outcome.notes else "the submission could not be run")
        elif score >= points:
            message = "passed every test, visible and hidden"
        else:
            message = explain(result.error, cell_timeout) or "failed"
        rows.append(
            f"<tr class={'ok' if score >= points else 'ko'}><td>Exercise {number}</td><td>{html.escape(test_id)}</td>"
            f"<td>{score:g} / {points:g}</td><td><pre>{html.escape(message)}</pre></td></tr>"
        )
    total = sum(p for _, _, p in pairs)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in outcome.notes)
    return (
        "<!doctype html><meta charset=utf-8>"
        f"<title>{html.escape(assignment)}: feedback for {html.escape(outcome.student)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.3em .6em;vertical-align:top}"
        "tr.ok td:nth-child(3){color:#17702a}tr.ko td:nth-child(3){color:#a11}pre{white-space:pre-wrap;margin:0}</style>"
        f"<h1>{html.escape(assignment)}</h1><p>Student: {html.escape(outcome.student)}. "
        f"Score: <b>{outcome.score:g} / {total:g}</b>.</p>"
        "<table><tr><th>exercise</th><th>test cell</th><th>points</th><th>what happened</th></tr>"
        + "".join(rows) + "</table>"
        + (f"<h2>Notes on your submission</h2><ul>{notes}</ul>" if notes else "")
        + "<p>Hidden tests are not shown; the message says what they checked and what came back.</p>"
    )


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    seconds: float
    max_score: float


def grade_batch(
    course_dir: Path,
    assignment: str,
    *,
    jobs: int = 2,
    cell_timeout: int | None = None,
    shard_timeout: float = 1800,
    student_timeout: float = 600,
    db_url: str | None = None,
    course: Course | None = None,
    shard: Shard | None = None,
) -> BatchResult:
    """Grade every submission of `assignment` in `course_dir` (or only those of `shard`, see in_shard);
    write gradebook, feedback and CSVs."""
    start = time.perf_counter()
    ensure_bin_on_path()
    course = course or Course(course_dir)
    db_url = db_url or f"sqlite:///{course_dir / 'gradebook.db'}"
    pairs = exercises(course.source_notebook(assignment))
    students = sorted(p.name for p in (course_dir / "submitted").iterdir() if p.is_dir()) if (course_dir / "submitted").exists() else []
    students = [s for s in students if in_shard(s, shard)]
    outcomes: dict[str, Outcome] = {}
    runnable: dict[str, nbformat.NotebookNode] = {}
    source = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    released = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    with ThreadPoolExecutor(max_workers=1) as maker:
        making = maker.submit(_template, course, assignment)  # nbgrader generates while the submissions are read
        try:
            for student in students:
                outcome, nb = preflight(course_dir, assignment, student, source, released)
                outcomes[student] = outcome
                if nb is not None:
                    outcome.nonce = integrity.new_nonce()
                    runnable[student] = integrity.guard(nb, outcome.nonce)
        except BaseException:
            shutil.rmtree(making.result(), ignore_errors=True)
            raise
        template = making.result()

    def merge(gb, student: str) -> None:  # on this thread only: one writer for the gradebook
        outcome = outcomes[student]
        _hold_if_tampered(outcome, course_dir, assignment)
        files = _submission_files(course_dir, assignment, student)
        _merge_outcome(gb, assignment, outcome, _submitted_at(files))
        feedback = course_dir / "feedback" / student / assignment
        feedback.mkdir(parents=True, exist_ok=True)
        for path in files:  # as nbgrader's generate_feedback does: release_feedback needs them
            shutil.copy2(path, feedback / path.name)
        page = _feedback_page(assignment, outcome, pairs, cell_timeout or CELL_TIMEOUT)
        (feedback / f"{assignment}.html").write_text(page, encoding="utf-8")

    try:
        _ensure_assignment_in_gradebook(template, db_url, assignment)
        names = sorted(runnable)
        shards = [names[i::jobs] for i in range(jobs) if names[i::jobs]]

        def run_shard(shard: list[str]) -> list[str]:
            worker = Worker(course, assignment, template, cell_timeout)
            try:
                clean, log = worker.grade({s: runnable[s] for s in shard}, shard_timeout)
                logs = dict.fromkeys(shard, log)
                if not clean and len(shard) > 1:
                    # One submission broke the shared run: grade the ones left without results alone.
                    for student in shard:
                        if not worker.results(student)[0]:
                            logs[student] = worker.grade({student: runnable[student]}, student_timeout)[1]
                for student in shard:
                    _collect(worker, outcomes[student], course_dir, assignment, logs[student], cell_timeout or CELL_TIMEOUT)
                return shard
            finally:
                worker.close()

        from nbgrader.api import Gradebook

        with ThreadPoolExecutor(max_workers=max(1, len(shards))) as pool, Gradebook(db_url) as gb:
            running = [pool.submit(run_shard, shard) for shard in shards]
            for student in students:  # nothing to run: missing or unreadable
                if student not in runnable:
                    merge(gb, student)
            for done in as_completed(running):  # a shard's students are merged while the others still run
                for student in done.result():
                    merge(gb, student)
    finally:
        shutil.rmtree(template, ignore_errors=True)

    result = BatchResult([outcomes[s] for s in students], time.perf_counter() - start, sum(p for _, _, p in pairs))
    _write_reports(course_dir, assignment, result, shard)
    write_assignment_grades(db_url, assignment, course.source_notebook(assignment), grading_dir(course_dir, assignment) / "grades.csv")
    write_course_grades(db_url, grading_dir(course_dir) / "grades.csv")
    return result


def _hold_if_tampered(outcome: Outcome, course_dir: Path, assignment: str) -> None:
    """Hold a submission with any sign of tampering: every exercise scores 0 until accepted."""
    if outcome.status in ("missing", "invalid"):
        return
    if not outcome.cells and not outcome.findings:
        return  # nothing earned, nothing suspicious: the outcome already says it could not be graded
    graded = course_dir / "autograded" / outcome.student / assignment / f"{assignment}.ipynb"
    notebook = nbformat.read(str(graded), as_version=4) if graded.exists() else None
    reasons = integrity.hold_reasons(notebook, outcome.nonce, outcome.findings)
    if notebook is None and outcome.cells:
        reasons.append("integrity check: no graded notebook to check")
    if not reasons:
        return
    outcome.status = "held"
    outcome.held = {grade_id: result.score for grade_id, result in outcome.cells.items()}
    outcome.cells = {grade_id: CellResult(0.0, result.max_score, "held for review") for grade_id, result in outcome.cells.items()}
    outcome.flags += [r for r in reasons if r not in outcome.flags]
    outcome.notes.append("held for review: every exercise scores 0 until the instructor accepts the submission")


def _collect(worker: Worker, outcome: Outcome, course_dir: Path, assignment: str, log: str, cell_timeout: int) -> None:
    cells, graded = worker.results(outcome.student)
    if not cells:
        outcome.status = "failed"
        reason = "the kernel died" if "Dead" in log or "died" in log else "nbgrader could not grade it"
        outcome.notes.append(f"{reason}; graded 0 (see the grading log)")
        outcome.flags.append("could not be graded")
        return
    outcome.cells = cells
    target = course_dir / "autograded" / outcome.student / assignment
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(graded, target / f"{assignment}.ipynb")
    for path in _submission_files(course_dir, assignment, outcome.student):  # as nbgrader's autograde does
        shutil.copy2(path, target / path.name)
    timeouts = [g for g, c in cells.items() if "CellTimeoutError" in c.error or "Timeout" in c.error]
    if timeouts:
        outcome.notes.append(f"cells stopped for running past the {cell_timeout} s limit: {', '.join(timeouts)}")


def _ensure_assignment_in_gradebook(template: Path, db_url: str, assignment: str) -> None:
    """Create the assignment (with its graded cells) in the course gradebook if it is not there.
    One machine at a time, when several grade into one PostgreSQL gradebook."""
    with _setup_lock(db_url):
        _copy_assignment_into_gradebook(template, db_url, assignment)


def _copy_assignment_into_gradebook(template: Path, db_url: str, assignment: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    target_file = Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None
    if target_file is not None and not target_file.exists():
        # A course's first gradebook: the template's is exactly what nbgrader's generate_assignment
        # makes for this assignment (tables, alembic version, course, cells), so take a copy of it.
        target_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template / "gradebook.db", target_file)
        return
    with Gradebook(db_url) as gb:  # the first opening creates the tables and the course
        try:
            gb.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    with Gradebook(f"sqlite:///{template / 'gradebook.db'}") as source, Gradebook(db_url) as target:
        origin = source.find_assignment(assignment)
        target.update_or_create_assignment(assignment)
        for notebook in origin.notebooks:
            target.update_or_create_notebook(notebook.name, assignment)
            for cell in notebook.grade_cells:
                target.update_or_create_grade_cell(cell.name, notebook.name, assignment, max_score=cell.max_score,
                                                   cell_type=cell.cell_type)
            for cell in notebook.solution_cells:
                target.update_or_create_solution_cell(cell.name, notebook.name, assignment)
            for cell in notebook.source_cells:
                target.update_or_create_source_cell(cell.name, notebook.name, assignment, cell_type=cell.cell_type,
                                                    locked=cell.locked, source=cell.source, checksum=cell.checksum)


def held_file(course_dir: Path, assignment: str, shard: Shard | None = None) -> Path:
    return grading_dir(course_dir, assignment) / f"held{shard_suffix(shard)}.json"


def report_file(course_dir: Path, assignment: str, shard: Shard | None = None) -> Path:
    return grading_dir(course_dir, assignment) / f"grading-report{shard_suffix(shard)}.csv"


def _run_files(course_dir: Path, assignment: str) -> list[tuple[Path, int | None]]:
    """Every held*.json and grading-report*.csv of the assignment, with the n of the shards that wrote it
    (None: a run without shards)."""
    found = []
    for path in sorted(grading_dir(course_dir, assignment).glob("*")):
        match = re.fullmatch(r"held(?:-shard-\d+-of-(\d+))?\.json|grading-report(?:-shard-\d+-of-(\d+))?\.csv", path.name)
        if match:
            n = match[1] or match[2]
            found.append((path, int(n) if n else None))
    return found


def accept(course_dir: Path, assignment: str, student: str, db_url: str | None = None, course: Course | None = None) -> float:
    """Release a held submission: the scores it earned go to the gradebook and the CSVs. Returns its score."""
    course = course or Course(course_dir)
    db_url = db_url or f"sqlite:///{course_dir / 'gradebook.db'}"
    # held.json, or the held-shard-i-of-n.json of the shard that graded the student on this machine
    held_files = [path for path, _ in _run_files(course_dir, assignment) if path.suffix == ".json"]
    everyone = {path: json.loads(path.read_text()) for path in held_files}
    path = next((p for p, held in everyone.items() if student in held), None)
    if path is None:
        names = sorted(s for held in everyone.values() for s in held)
        raise KeyError(f"{student} has no held submission of {assignment} (held: {', '.join(names) or 'none'})")
    held = everyone[path]
    pairs = exercises(course.source_notebook(assignment))
    points = {t: p for _, t, p in pairs}
    outcome = Outcome(student, "accepted", cells={t: CellResult(score, points.get(t, score)) for t, score in held.pop(student).items()})
    _merge_into_gradebook(db_url, assignment, outcome)
    path.write_text(json.dumps(held, indent=1, sort_keys=True))
    table = path.with_name(path.stem.replace("held", "grading-report", 1) + ".csv")
    if table.exists():
        with open(table, newline="") as f:
            rows = list(csv.DictReader(f))
        with open(table, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(row | {"status": "accepted", "score": f"{outcome.score:g}",
                                    "notes": row["notes"] + "; accepted by the instructor after review"}
                             if row["student"] == student else row for row in rows)
    write_assignment_grades(db_url, assignment, course.source_notebook(assignment), grading_dir(course_dir, assignment) / "grades.csv")
    write_course_grades(db_url, grading_dir(course_dir) / "grades.csv")
    return outcome.score


def _write_reports(course_dir: Path, assignment: str, result: BatchResult, shard: Shard | None) -> None:
    """held.json and grading-report.csv: what only this run knows (held-shard-i-of-n.json and
    grading-report-shard-i-of-n.csv for a shard). grades.csv comes from the gradebook (write_assignment_grades)."""
    out = grading_dir(course_dir, assignment)
    out.mkdir(parents=True, exist_ok=True)
    for path, n in _run_files(course_dir, assignment):  # an earlier run split another way: these students are graded again
        if n != (shard[1] if shard else None):
            path.unlink(missing_ok=True)
    held = {o.student: o.held for o in result.outcomes if o.status == "held"}
    held_file(course_dir, assignment, shard).write_text(json.dumps(held, indent=1, sort_keys=True))
    with open(report_file(course_dir, assignment, shard), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", "score", "review", "flags", "notes"])
        for o in result.outcomes:
            writer.writerow([o.student, o.status, f"{o.score:g}", "yes" if o.flags else "", "; ".join(o.flags), "; ".join(o.notes)])
