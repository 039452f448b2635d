"""Several machines grading one assignment into one PostgreSQL gradebook: `course grade --shard i/n --db URL`.

The test starts a real PostgreSQL server of its own (initdb into a temporary folder, listening on a
unix socket in that folder only, so no TCP port can be taken by anyone else; as root the server runs
as `nobody`, since PostgreSQL refuses to run as root). It is skipped, saying why, where PostgreSQL is
not installed (Debian's `postgresql` package, which .ci/run installs) or does not start.

Two shards of one class are graded at the same time by two `course grade` processes in one shared
course folder, while a third grades the same submissions without shards into SQLite: every student is
in the gradebook once, with the scores of the unsharded run, and the tables built from the gradebook
are the same as the unsharded run's.
"""

from __future__ import annotations

import copy
import csv
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.batch import _ensure_assignment_in_gradebook, accept, in_shard, parse_shard
from coursekit.grading.cli import main as course_main
from coursekit.grading.lint import nbgrader_meta
from fixture_course import ASSIGNMENT, make_course
from hostile_submissions import TAMPERING

pytestmark = pytest.mark.xdist_group("sharded-grading")  # one server and one graded class, on one worker

TIMEOUT = 300  # seconds for any one command, on a busy machine
EXERCISES = ("double-tests", "greet-tests")


# -- shard membership ------------------------------------------------------------------------------
def test_shard_membership_depends_on_the_name_alone():
    students = [f"learner{k:04d}" for k in range(1000)] + ["ada", "Zoë", "x-y_z.1"]
    for n in (1, 2, 3, 7):
        shards = [{s for s in students if in_shard(s, (i, n))} for i in range(1, n + 1)]
        assert sum(len(s) for s in shards) == len(students) and set().union(*shards) == set(students)  # disjoint, cover
        # Whatever the list a machine sees (a part of it, another order), the same student lands in the same shard.
        for i, shard in enumerate(shards, start=1):
            assert {s for s in reversed(students[::3]) if in_shard(s, (i, n))} == shard & set(students[::3])
    # The documented rule, pinned: the shard of a name must never change between versions or machines.
    # zlib.crc32(b"ada") == 2372962152 and zlib.crc32("Zoë".encode()) == 1739342378 (UTF-8)
    assert [i for i in (1, 2, 3) if in_shard("ada", (i, 3))] == [1]
    assert [i for i in (1, 2, 3, 4, 5) if in_shard("Zoë", (i, 5))] == [4]
    assert all(in_shard(s, None) for s in students)
    assert min(len([s for s in students if in_shard(s, (i, 3))]) for i in (1, 2, 3)) > 300  # roughly even


def test_a_wrong_shard_is_refused_with_a_clear_message(capsys):
    assert parse_shard("2/3") == (2, 3) and parse_shard(" 1/1 ") == (1, 1)
    for text, message in (("0/2", "between 1 and n"), ("3/2", "between 1 and n"), ("x", "a shard is i/n"),
                          ("1/0", "between 1 and n"), ("2", "a shard is i/n"), ("-1/2", "a shard is i/n")):
        with pytest.raises(ValueError, match=message):
            parse_shard(text)
    for text, message in (("0/2", "shard 0/2: i must be between 1 and n"), ("3/2", "shard 3/2: i must be between 1 and n"),
                          ("x", "a shard is i/n, such as 2/3")):
        with pytest.raises(SystemExit) as exit:
            course_main(["grade", ASSIGNMENT, f"--shard={text}"])
        stderr = capsys.readouterr().err
        assert exit.value.code == 2 and f"course grade: error: argument --shard: {message}" in stderr, stderr


# -- a PostgreSQL server of the test's own ------------------------------------------------------------
def _postgres_bin() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: on PATH, or Debian's /usr/lib/postgresql/VERSION/bin."""
    on_path = shutil.which("pg_ctl")
    folders = [Path(on_path).resolve().parent] if on_path else []
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
                      reverse=True)
    return next((f for f in folders if all((f / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))), None)


class Postgres:
    """A throwaway server: data and socket in one temporary folder, no TCP, `trust` for local users."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="course-pg-"))  # not under pytest's 0700 tmp: nobody must reach it
        self.data, self.sockets = self.base / "data", self.base / "sockets"
        self.sockets.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the server runs as nobody, owning its folder
            nobody = pwd.getpwnam("nobody")
            for path in (self.base, self.sockets):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["runuser", "-u", "nobody", "--"]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], cwd=self.base, capture_output=True, text=True, timeout=120)

    def start(self) -> str:
        """Start the server; '' when it started, else what went wrong."""
        if self.as_user and not shutil.which("runuser"):
            return "running as root, and no runuser to start the server as another user"
        steps = [[str(self.bin / "initdb"), "-D", str(self.data), "-U", "course", "--auth=trust", "-E", "UTF8", "--no-sync"],
                 [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60",
                  "-o", f"-k {self.sockets} -c listen_addresses='' -c fsync=off", "start"]]
        for step in steps:
            proc = self.run(*step)
            if proc.returncode != 0:
                log = self.base / "server.log"
                return f"{Path(step[0]).name} failed: {(proc.stdout + proc.stderr)[-1500:]}" + (log.read_text()[-1500:] if log.exists() else "")
        return ""

    def database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL (through the socket folder)."""
        import psycopg

        with psycopg.connect(host=str(self.sockets), user="course", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://course@/{name}?host={self.sockets}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl/postgres on PATH or in /usr/lib/postgresql/*/bin); "
                    "install Debian's postgresql package (.ci/run does) to test grading into a shared gradebook")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: no driver for PostgreSQL (it is in the lock file; run make setup)")
    server = Postgres(bin_dir)
    try:
        problem = server.start()
        if problem:
            pytest.skip(f"PostgreSQL ({bin_dir}) could not be started here: {problem}")
        yield server
    finally:
        server.stop()


def _count(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


# -- two shards of one class, graded at the same time ------------------------------------------------------
def _with(nb, grade_id: str, old: str, new: str):
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


def _class(course, root: Path) -> dict[str, str]:
    """Six submissions, three in each of two shards; returns student -> what they submitted."""
    solution = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    adds = _with(solution, "double-answer", "return 2 * x", "return x + 2")
    no_stranger = _with(solution, "greet-answer", "name or 'stranger'", "name")
    # A wrong double() that rebinds `expect` through globals(): held; it earned 2 (greet), as the test cells import expect again.
    tampered = copy.deepcopy(solution)
    next(c for c in tampered.cells if nbgrader_meta(c).get("grade_id") == "double-answer").source = TAMPERING["tamper-globals"][1]
    kinds = {"ada": ("solution", solution), "bob": ("stub", release), "cy": ("mutant adds-instead", adds),
             "dee": ("mutant no-stranger", no_stranger), "eve": ("copy of the solution", solution),
             "hal": ("tampering, held", tampered)}
    for student, (_, nb) in kinds.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{ASSIGNMENT}.ipynb"))
    return {student: kind for student, (kind, _) in kinds.items()}


def _grade(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "coursekit.grading.cli", "grade", ASSIGNMENT, "--course", str(root),
                             "--jobs", "1", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def graded(postgres, tmp_path_factory):
    """One shared course folder graded as two shards at once into PostgreSQL; a copy graded whole into SQLite."""
    url = postgres.database("course")
    root = tmp_path_factory.mktemp("sharded") / "course"
    course = make_course(root)
    kinds = _class(course, root)
    whole = root.parent / "whole"
    shutil.copytree(root, whole)
    # Left by earlier runs split another way: they speak of students these shards grade again.
    stale = root / "grading" / ASSIGNMENT
    stale.mkdir(parents=True)
    (stale / "held.json").write_text('{"ada": {"double-tests": 1.0, "greet-tests": 2.0}}')
    (stale / "grading-report-shard-3-of-3.csv").write_text("student,status,score,review,flags,notes\n")
    procs = {"1/2": _grade(root, "--db", url, "--shard", "1/2"), "2/2": _grade(root, "--db", url, "--shard", "2/2"),
             "whole": _grade(whole)}
    outputs = {}
    try:
        for name, proc in procs.items():
            outputs[name] = proc.communicate(timeout=TIMEOUT)[0]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for name, proc in procs.items():
        assert proc.returncode == 0, f"course grade ({name}) failed:\n{outputs[name][-4000:]}"
    return {"url": url, "root": root, "whole": whole, "kinds": kinds, "outputs": outputs, "postgres": postgres}


def _scores(url: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {s.student.id: {g.name: float(g.score or 0) for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions(ASSIGNMENT)}


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_shards_are_disjoint_and_cover_the_class(graded):
    out = graded["root"] / "grading" / ASSIGNMENT
    everyone = set(graded["kinds"])
    reports = [set(_rows(out / f"grading-report-shard-{i}-of-2.csv")) for i in (1, 2)]
    assert reports[0] and reports[1] and not reports[0] & reports[1] and reports[0] | reports[1] == everyone
    for i, students in enumerate(reports, start=1):
        assert students == {s for s in everyone if in_shard(s, (i, 2))}
        assert f"submissions (shard {i} of 2) graded" in graded["outputs"][f"{i}/2"]
        for student in students:  # each printed by the shard that graded it, and only by it
            assert re.search(rf"^{student}\s", graded["outputs"][f"{i}/2"], re.M)
            assert not re.search(rf"^{student}\s", graded["outputs"][f"{3 - i}/2"], re.M)
    assert sorted(p.name for p in out.glob("*")) == sorted(["class-report.csv", "class-report.png", "grades.csv",
                                                             *[f"{name}-shard-{i}-of-2.{ext}" for i in (1, 2) for name, ext
                                                               in (("held", "json"), ("grading-report", "csv"))]])


def test_every_student_is_in_the_gradebook_once(graded):
    url, count = graded["url"], len(graded["kinds"])
    assert _count(url, "SELECT count(*) FROM course") == [(1,)]
    assert _count(url, "SELECT count(*) FROM assignment") == [(1,)]
    assert _count(url, "SELECT count(*) FROM grade_cells") == [(len(EXERCISES),)]
    assert _count(url, "SELECT count(*) FROM alembic_version") == [(1,)]
    assert sorted(_count(url, "SELECT id FROM student")) == [(s,) for s in sorted(graded["kinds"])]
    per_student = _count(url, "SELECT student_id, count(*) FROM submitted_assignment GROUP BY student_id ORDER BY student_id")
    assert per_student == [(s, 1) for s in sorted(graded["kinds"])]
    assert _count(url, "SELECT count(*) FROM submitted_notebook") == [(count,)]
    assert _count(url, "SELECT count(*) FROM grade") == [(count * len(EXERCISES),)]
    assert _count(url, "SELECT count(*) FROM (SELECT notebook_id, cell_id FROM grade GROUP BY notebook_id, cell_id "
                       "HAVING count(*) > 1) AS twice") == [(0,)]


def test_scores_are_those_of_one_machine_grading_everyone(graded):
    sharded, whole = _scores(graded["url"]), _scores(f"sqlite:///{graded['whole'] / 'gradebook.db'}")
    assert sharded == whole
    # and they are the right ones: the class covers full marks, zero, each mutant and a held submission
    assert sharded["ada"] == sharded["eve"] == {"double-tests": 1, "greet-tests": 2}
    assert sharded["bob"] == {"double-tests": 0, "greet-tests": 0}
    assert sharded["cy"] == {"double-tests": 0, "greet-tests": 2}
    assert sharded["dee"] == {"double-tests": 1, "greet-tests": 0}
    assert sharded["hal"] == {"double-tests": 0, "greet-tests": 0}


def test_the_tables_from_the_gradebook_hold_both_shards(graded):
    """Whichever shard finished last wrote grades.csv and the class report from the gradebook: everyone's."""
    sharded, whole = (graded[k] / "grading" for k in ("root", "whole"))
    for table in (f"{ASSIGNMENT}/grades.csv", f"{ASSIGNMENT}/class-report.csv", "grades.csv"):
        assert (sharded / table).read_text() == (whole / table).read_text(), table
    assert set(_rows(sharded / ASSIGNMENT / "grades.csv")) == set(graded["kinds"])
    # no temporary file left by the writes that replace a table whole (.templates/ is the generated assignment, kept)
    assert [p.name for p in sharded.rglob(".*")] == [".templates"]
    assert not list((sharded / ".templates").glob(".incoming-*"))


def test_a_held_submission_is_accepted_from_its_shards_file(graded):
    out, url = graded["root"] / "grading" / ASSIGNMENT, graded["url"]
    shard = next(i for i in (1, 2) if in_shard("hal", (i, 2)))
    assert (out / f"held-shard-{shard}-of-2.json").read_text().count('"hal"') == 1
    assert _rows(out / f"grading-report-shard-{shard}-of-2.csv")["hal"]["status"] == "held"
    assert accept(graded["root"], ASSIGNMENT, "hal", url) == 2
    assert _scores(url)["hal"] == {"double-tests": 0, "greet-tests": 2}
    assert _rows(out / f"grading-report-shard-{shard}-of-2.csv")["hal"]["status"] == "accepted"
    assert _rows(out / "grades.csv")["hal"]["score"] == "2" and len(_rows(out / "grades.csv")) == len(graded["kinds"])
    assert _rows(graded["root"] / "grading" / "grades.csv")["hal"][ASSIGNMENT] == "2"
    with pytest.raises(KeyError, match="no held submission"):
        accept(graded["root"], ASSIGNMENT, "hal", url)


# -- machines setting up one gradebook at once ----------------------------------------------------------
@pytest.mark.parametrize("gradebook", ["empty", "with its tables"])
def test_setting_up_one_gradebook_from_several_machines_at_once_does_not_race(graded, gradebook):
    """Four threads add the assignment to one gradebook at the same moment, as shards starting together do.
    nbgrader's find-then-add hits unique constraints without the set-up lock: on an empty database when it
    creates the tables, on one that has them when it adds the course, the assignment and its cells."""
    from nbgrader.api import Gradebook

    url = graded["postgres"].database(f"setup_race_{gradebook.replace(' ', '_')}")
    if gradebook != "empty":
        Gradebook(url).close()  # tables and course, as an earlier assignment leaves them
    start, errors = threading.Barrier(4), []

    def set_up() -> None:
        start.wait(timeout=60)
        try:  # the whole run's folder holds a gradebook with the assignment, as a grading template does
            _ensure_assignment_in_gradebook(graded["whole"], url, ASSIGNMENT)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=set_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(t.is_alive() for t in threads), "set-up did not finish"
    assert not errors, errors
    for table, rows in (("course", 1), ("assignment", 1), ("notebook", 1), ("grade_cells", 2), ("alembic_version", 1)):
        assert _count(url, f"SELECT count(*) FROM {table}") == [(rows,)], table
