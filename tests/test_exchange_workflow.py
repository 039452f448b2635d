"""A class through nbgrader's exchange, end to end on one machine.

The instructor releases an assignment; three students fetch it, work on it and submit; the
instructor collects the submissions, grades them with `course grade` and returns the feedback,
which each student fetches. Every step is nbgrader's own command (or the course's), run as a
subprocess as a person would type it, and the tests check what each student has after it:
the notebook they fetched, the time they submitted, their grade in the gradebook, and the
feedback page they fetched (their own, and without the hidden tests).

    ada submits the solution (3/3), ben the stub as released (0/3), and cyd first the stub, then a
    mutant whose `double` adds 2 (passes the visible test, fails the hidden one: 2/3); the
    instructor collects cyd's latest submission.

How students are told apart. nbgrader takes a student's id from the operating-system user who
runs `nbgrader submit` (nbgrader.utils.get_username), and keeps students apart with the exchange's
permissions (the inbound folder is write-only for students; feedback files are named by a secret
hash). So where the test runs as root (CI runs in a root container), each student is a real,
throwaway Unix account (useradd, with a home under a temporary folder; userdel at the end) and runs
their commands as that user. Where it cannot (not root, no useradd), each student gets a HOME of
their own and names themselves with `--student`, which nbgrader's submit and fetch_feedback honour
(the permission checks are then not exercised). COURSE_EXCHANGE_STUDENTS=homes forces the second
way. A student account runs the course's nbgrader; if the course's interpreter lives where other
users cannot go (a Python under /root, mode 0700), it runs the same packages with a Python of the
same version that they can reach (the venv's site-packages on PYTHONPATH).
"""

from __future__ import annotations

import html
import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.course import Course
from coursekit.grading.lint import nbgrader_meta
from coursekit.grading.mutants import load_mutants
from coursekit.grading.nbgrader import nbgrader_env
from commands import delete_account, run as run_command
from fixture_course import ASSIGNMENT, make_course

pytestmark = pytest.mark.xdist_group("exchange-workflow")  # one class, one worker: the fixture runs once

BIN = Path(sys.executable).parent
COURSE_ID = "fastapi-demo"
STEP_TIMEOUT = 120  # seconds for any one nbgrader command (start-up is slow on a busy machine)
GRADE_TIMEOUT = 300  # seconds for `course grade` of three tiny submissions
HIDDEN = ("BEGIN HIDDEN TESTS", "expect(double(-3)", 'expect(greet("")')  # the hidden tests' code
EXPECTED = {"ada": 3.0, "ben": 0.0, "cyd": 2.0}


def run(command: list, *, cwd: Path, env: dict, timeout: float = STEP_TIMEOUT, **kwargs) -> str:
    """Run one command in `cwd` with `env`; its output, or a failed test that shows it."""
    return run_command(command, cwd=cwd, env=env, timeout=timeout, **kwargs)


# -- the students -------------------------------------------------------------------------------

@dataclass
class Student:
    role: str  # ada, ben, cyd: what they submit (see the module's docstring)
    name: str  # their student id: their user name, or what they pass to --student
    home: Path
    uid: int | None = None  # a real account's ids; None when they run as the test's own user
    gid: int | None = None


class Students:
    """Three students, as real accounts (root) or as separate HOMEs; runs nbgrader as each of them."""

    def __init__(self, base: Path, mode: str, why: str = "") -> None:
        self.mode = mode
        self.why = why  # why they are not real accounts, when they are not
        suffix = str(os.getpid())
        self.people = {role: Student(role, f"{role}{suffix}" if mode == "accounts" else role, base / "home" / role)
                       for role in EXPECTED}
        self.python: list[str] = [str(BIN / "nbgrader")]
        self.pythonpath = ""

    # real accounts
    def create_accounts(self) -> None:
        for entry in pwd.getpwall():  # accounts left by a run that was killed before it could clean up
            if entry.pw_dir.startswith(f"{tempfile.gettempdir()}/course-exchange-") and not Path(entry.pw_dir).exists():
                delete_account(entry.pw_name)
        for student in self.people.values():
            delete_account(student.name)  # a leftover of an interrupted run with the same pid
            run(["useradd", "--create-home", "--home-dir", student.home, "--shell", "/bin/sh", "--user-group",
                 student.name], cwd=Path("/"), env=nbgrader_env(), timeout=60)
            entry = pwd.getpwnam(student.name)
            student.uid, student.gid = entry.pw_uid, entry.pw_gid

    def delete_accounts(self) -> None:
        for student in self.people.values():
            delete_account(student.name)

    def find_python(self) -> bool:
        """Can a student run the course's nbgrader? Use the venv, or the same packages with a Python they reach."""
        student = next(iter(self.people.values()))
        purelib = sysconfig.get_paths()["purelib"]
        # Cheap: can they start this Python, and read nbgrader from the venv? (Importing it takes seconds.)
        probe = f"import os, sys; sys.exit(not os.access({purelib + '/nbgrader/__init__.py'!r}, os.R_OK))"
        if self._works(student, [str(BIN / "python"), "-c", probe], ""):
            return True
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
            candidate = Path(folder) / version
            if candidate.exists() and self._works(student, [str(candidate), "-c", probe], purelib):
                self.python, self.pythonpath = [str(candidate), "-m", "nbgrader"], purelib
                return True
        self.why = (f"the course's Python ({Path(sys.executable).resolve()}) is out of other users' reach "
                    f"and no {version} they can run was found")
        return False

    def _works(self, student: Student, command: list[str], pythonpath: str) -> bool:
        try:
            proc = subprocess.run(command, cwd=student.home, env=self.env(student, pythonpath), capture_output=True,
                                  timeout=60, **self._as(student))
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0

    # separate HOMEs
    def create_homes(self) -> None:
        for student in self.people.values():
            student.home.mkdir(parents=True)

    # running their commands
    def env(self, student: Student, pythonpath: str | None = None) -> dict[str, str]:
        """A clean login environment: their HOME (nbgrader's cache of submissions lives there), no JUPYTER_*."""
        env = {"HOME": str(student.home), "USER": student.name, "LOGNAME": student.name, "LANG": "C.UTF-8",
               "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        pythonpath = self.pythonpath if pythonpath is None else pythonpath
        if pythonpath:
            env |= {"PYTHONPATH": pythonpath, "PYTHONNOUSERSITE": "1"}
        return env

    def _as(self, student: Student) -> dict:
        if student.uid is None:
            return {}
        return {"user": student.uid, "group": student.gid, "extra_groups": []}

    def nbgrader(self, student: Student, *args: str, exchange: Path) -> str:
        """`nbgrader ARGS --course=... --Exchange.root=...`, as this student, from their home."""
        command = [*self.python, *args, f"--course={COURSE_ID}", f"--Exchange.root={exchange}"]
        if self.mode == "homes" and args[0] in ("submit", "fetch_feedback"):
            command.append(f"--student={student.name}")
        return run(command, cwd=student.home, env=self.env(student), **self._as(student))

    def shell(self, student: Student, *command: str) -> subprocess.CompletedProcess:
        """Any other command as this student (not checked: the caller looks at the outcome)."""
        return subprocess.run(list(command), cwd=student.home, env=self.env(student), capture_output=True, text=True,
                              timeout=60, **self._as(student))

    def write(self, student: Student, path: Path, nb: nbformat.NotebookNode) -> None:
        """The student's edits, saved in their notebook (still theirs)."""
        nbformat.write(nb, str(path))
        if student.uid is not None:
            os.chown(path, student.uid, student.gid)


def choose_mode() -> tuple[str, str]:
    wanted = os.environ.get("COURSE_EXCHANGE_STUDENTS", "")
    if wanted == "homes":
        return "homes", "COURSE_EXCHANGE_STUDENTS=homes"
    if os.geteuid() != 0:
        return "homes", "not root: no throwaway accounts"
    if not (shutil.which("useradd") and shutil.which("userdel")):
        return "homes", "no useradd/userdel"
    return "accounts", ""


# -- what the students do ---------------------------------------------------------------------

def answered(fetched: nbformat.NotebookNode, answers: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The fetched notebook with its answer cells written as in `answers` (what a student types)."""
    sources = {nbgrader_meta(c).get("grade_id"): c.source for c in answers.cells if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(fetched)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def cached_submissions(student: Student) -> list[Path]:
    """The student's own record of what they submitted (nbgrader's cache in their home), oldest first."""
    cache = student.home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID
    return sorted(cache.glob(f"*+{ASSIGNMENT}+*"), key=lambda p: p.name.split("+")[2])


# -- the class ----------------------------------------------------------------------------------

@dataclass
class Class:
    course: Course
    exchange: Path
    students: Students
    outputs: dict[str, str]  # what each instructor command printed
    fetched: dict[str, str]  # each student's notebook as fetch_assignment left it (role -> text)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.course.root / 'gradebook.db'}"


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("exchange") / "course")
    root = course.root
    # The instructor's nbgrader_config.py: the course's own configuration, pointed at this folder.
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(Course().nbgrader_config)!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root / 'gradebook.db'}'\n"
    )
    # The exchange and the students' homes: somewhere every account can reach (pytest's tmp is 0700).
    base = Path(tempfile.mkdtemp(prefix="course-exchange-"))
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o755)
    exchange = base / "exchange"
    students = Students(base, *choose_mode())
    try:
        if students.mode == "accounts":
            students.create_accounts()
            if not students.find_python():
                students.delete_accounts()
                shutil.rmtree(base / "home")
                (base / "home").mkdir(mode=0o755)
                students = Students(base, "homes", students.why)
        if students.mode == "homes":
            students.create_homes()
        yield walk_through(course, exchange, students)
    finally:
        if students.mode == "accounts":
            students.delete_accounts()
        shutil.rmtree(base, ignore_errors=True)


def walk_through(course: Course, exchange: Path, students: Students) -> Class:
    """The whole term for one assignment, each step by nbgrader's (or the course's) own command."""
    root = course.root
    ada, ben, cyd = (students.people[r] for r in ("ada", "ben", "cyd"))
    instructor = nbgrader_env()
    exchange_args = [f"--course={COURSE_ID}", f"--Exchange.root={exchange}"]
    outputs: dict[str, str] = {}

    # 1. The instructor releases the assignment to the exchange.
    outputs["release"] = run([BIN / "nbgrader", "release_assignment", ASSIGNMENT, *exchange_args], cwd=root,
                             env=instructor)

    # 2. Each student fetches it into their home.
    everyone = (ada, ben, cyd)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda s: students.nbgrader(s, "fetch_assignment", ASSIGNMENT, exchange=exchange), everyone))
    notebook = lambda s: s.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # noqa: E731
    fetched = {s.role: notebook(s).read_text() for s in everyone}

    # 3. They work and submit: ada the solution, ben the stub as released, cyd the stub, then a mutant.
    solution = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    mutant = next(m for m in load_mutants(course, ASSIGNMENT) if m.name == "adds-instead").apply(solution)
    given = nbformat.reads(fetched["ada"], as_version=4)
    students.write(ada, notebook(ada), answered(given, solution))
    students.nbgrader(cyd, "submit", ASSIGNMENT, exchange=exchange)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: students.nbgrader(s, "submit", ASSIGNMENT, exchange=exchange), (ada, ben)))
    students.write(cyd, notebook(cyd), answered(given, mutant))
    students.nbgrader(cyd, "submit", ASSIGNMENT, exchange=exchange)

    # 4. The instructor collects the latest submission of each student into submitted/.
    outputs["collect"] = run([BIN / "nbgrader", "collect", ASSIGNMENT, *exchange_args], cwd=root, env=instructor)

    # 5. ... grades them with the course's grader ...
    outputs["grade"] = run([BIN / "course", "grade", ASSIGNMENT, "--course", root, "--db", f"sqlite:///{root / 'gradebook.db'}",
                            "--jobs", "2"], cwd=root, env=instructor, timeout=GRADE_TIMEOUT)

    # 6. ... and returns the course's feedback pages (feedback/<student>/<assignment>/) through the exchange.
    outputs["release_feedback"] = run([BIN / "nbgrader", "release_feedback", ASSIGNMENT, *exchange_args], cwd=root,
                                      env=instructor)

    # 7. Each student fetches their feedback.
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda s: students.nbgrader(s, "fetch_feedback", ASSIGNMENT, exchange=exchange), everyone))
    return Class(course, exchange, students, outputs, fetched)


# -- what each step promises -----------------------------------------------------------------------

def test_each_student_works_in_their_own_account(klass):
    students = klass.students
    if students.mode != "accounts":
        pytest.skip(f"students were separate HOMEs naming themselves with --student: {students.why}")
    for student in students.people.values():
        assert (student.home / ASSIGNMENT).stat().st_uid == student.uid, \
            f"{student.name} owns the assignment folder they fetched"
        for submission in cached_submissions(student):
            assert submission.stat().st_uid == student.uid, f"{student.name} owns their record of {submission.name}"


def test_every_student_fetches_the_released_notebook_without_solutions(klass):
    released = nbformat.read(str(klass.course.release_notebook(ASSIGNMENT)), as_version=4)
    for role, text in klass.fetched.items():
        name = klass.students.people[role].name
        fetched = nbformat.reads(text, as_version=4)
        assert [c.source for c in fetched.cells] == [c.source for c in released.cells], \
            f"{name} fetched exactly the released notebook into ~/{ASSIGNMENT}/"
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f"{name} was given answers"


def test_the_instructor_collects_each_students_latest_submission_and_its_time(klass):
    root = klass.course.root
    people = klass.students.people
    assert sorted(p.name for p in (root / "submitted").iterdir()) == sorted(s.name for s in people.values()), \
        "collect makes one submitted/<student>/ folder per student, named by their student id"
    for student in people.values():
        cached = cached_submissions(student)
        assert cached, f"{student.name} has no record of their submission in nbgrader's cache"
        submitted = root / "submitted" / student.name / ASSIGNMENT
        assert (submitted / "timestamp.txt").read_text() == (cached[-1] / "timestamp.txt").read_text(), \
            f"the instructor has {student.name}'s latest submission, at the time they submitted it"
    cyd = people["cyd"]
    assert len(cached_submissions(cyd)) == 2, "cyd submitted twice"
    collected = (root / "submitted" / cyd.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "return x + 2" in collected, "the collected notebook is cyd's second submission, not the first"
    if klass.students.mode == "accounts":
        assert "cheating attempt" not in klass.outputs["collect"], \
            "each submission in the exchange is owned by the account whose id it carries"


def test_students_cannot_see_each_others_submissions(klass):
    if klass.students.mode != "accounts":
        pytest.skip(f"needs real student accounts ({klass.students.why})")
    ben = klass.students.people["ben"]
    listing = klass.students.shell(ben, "ls", str(klass.exchange / COURSE_ID / "inbound"))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr, \
        f"a student can list the exchange's inbound folder: {listing.stdout}"


def test_course_grade_puts_each_grade_and_submission_time_in_the_gradebook(klass):
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(klass.db_url) as gb:
        for role, expected in EXPECTED.items():
            student = klass.students.people[role]
            submission = gb.find_submission(ASSIGNMENT, student.name)
            assert submission.score == expected, f"{student.name} ({role}) scores {submission.score}, not {expected}"
            stamp = (cached_submissions(student)[-1] / "timestamp.txt").read_text()
            assert submission.timestamp == parse_utc(stamp), \
                f"the gradebook has {student.name}'s submission at {submission.timestamp}, they submitted at {stamp}"
    for role, expected in EXPECTED.items():  # and `course grade` says so
        name = klass.students.people[role].name
        assert re.search(rf"^{name}\s+graded\s+{expected:g}/3\b", klass.outputs["grade"], re.M), klass.outputs["grade"]


def test_course_grade_keeps_what_nbgrader_needs_to_return_feedback(klass):
    """The submission's time and secret go with its graded notebook and its feedback, as with nbgrader's own
    autograde and generate_feedback: release_feedback needs both, and so does generate_feedback after course grade."""
    root = klass.course.root
    for student in klass.students.people.values():
        for folder in ("autograded", "feedback"):
            for name in ("timestamp.txt", "submission_secret.txt"):
                kept, collected = (root / where / student.name / ASSIGNMENT / name for where in (folder, "submitted"))
                assert kept.exists() and kept.read_text() == collected.read_text(), \
                    f"{folder}/{student.name}/{ASSIGNMENT}/{name} is the one collected with the submission"


def test_each_student_fetches_their_own_feedback_without_hidden_tests(klass):
    for role, expected in EXPECTED.items():
        student = klass.students.people[role]
        pages = sorted((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        latest = (cached_submissions(student)[-1] / "timestamp.txt").read_text()
        assert [p.parent.name for p in pages] == [latest], \
            f"{student.name} gets one feedback page, for the submission that was graded ({latest}): {pages}"
        page = html.unescape(pages[0].read_text())
        assert f"Student: {student.name}." in page, f"{student.name} fetched someone else's feedback"
        assert f"Score: {expected:g} / 3." in page.replace("<b>", "").replace("</b>", ""), page
        leaks = [h for h in HIDDEN if h in page]
        assert not leaks, f"{student.name}'s feedback shows hidden test code: {leaks}"
