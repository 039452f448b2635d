"""A class on JupyterHub, on this machine: autograder/jupyterhub_config.py started for real.

The test starts the course's hub (DummyAuthenticator, LocalProcessSpawner, configurable-http-proxy)
on 127.0.0.1 with one instructor and two students, each a throwaway Unix account (useradd, homes
under a temporary folder; userdel at the end), and their JupyterLab servers through the hub's REST
API. Then, through the proxy and with each person's own token, as their browser would:

- a student's JupyterLab has nbgrader's instructor tools turned off and no formgrader; the
  instructor's has them, and formgrader shows the class's course id and exchange;
- the instructor releases the demo assignment with `nbgrader release_assignment` (as their account);
  a student's assignment list lists it, fetches it into their home and submits it (the list's own
  API, what its buttons call); the instructor collects the submission with `nbgrader collect`;
- a student cannot open another person's server, and someone not on the class list cannot log in;
- in headless Chromium (skipped where Chromium or the playwright package is missing), a student logs in on
  the hub's login page, opens Nbgrader > Assignment List in her JupyterLab, fetches the course's real
  01_fastapi_overview (released by the instructor from a copy of the course's solutions/ and notebooks/)
  and submits it with the solution's answers; the instructor collects it and `course grade` gives her full
  marks in the gradebook. The screenshot is saved to build/screenshots/jupyterhub-assignment-list.png.

The hub runs as root with the course's own Python. The single-user servers run as their accounts:
with the course's .venv where those accounts can run it (the class configuration as committed);
where the course's Python lives out of their reach (a Python under /root, mode 0700), with a
throwaway venv of a system Python of the same version that reads the course's packages (a .pth file)
and its Jupyter data (etc/ and share/ linked), and the hub's Spawner.cmd pointed at it.

Skipped, saying why, where the test is not root, or useradd or configurable-http-proxy is missing
(`.ci/run` installs the proxy with npm).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from coursekit.grading.course import REPO
from commands import delete_account, free_port, run as run_command
from fixture_course import ASSIGNMENT, make_course

pytestmark = pytest.mark.xdist_group("jupyterhub-class")  # one hub for the module, on one worker

BIN = Path(sys.executable).parent
HUB_CONFIG = REPO / "autograder" / "jupyterhub_config.py"
COURSE_ID = "fastapi-hub"
HTTP_TIMEOUT = 30  # seconds for one HTTP call (a server answering its first request on a busy machine)
STEP_TIMEOUT = 120  # seconds for one command (nbgrader's start-up is slow on a busy machine)
HUB_START = 60  # seconds for the hub and its proxy to answer
SERVER_START = 120  # seconds for the three JupyterLab servers to be ready
INSTRUCTOR_TOOLS = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
                    "@jupyter/nbgrader:course-list")
REAL = "01_fastapi_overview"  # the course's first notebook, released to the class in the browser test
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless Chromium as root, in a fresh profile, without calls home.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"]
BROWSER_STEP = 60_000  # milliseconds for one step in the browser (a page, a panel, a button's effect)
GRADE_TIMEOUT = 180  # seconds for `course grade` of one submission of 01 (about 25 s on 2 idle cores)
SCREENSHOT = REPO / "build" / "screenshots" / "jupyterhub-assignment-list.png"


def why_not() -> str:
    """Why this machine cannot run the class, or '' when it can."""
    if os.geteuid() != 0:
        return "not root: the hub starts each person's server as their own Unix account"
    if not (shutil.which("useradd") and shutil.which("userdel")):
        return "no useradd/userdel to make throwaway accounts"
    if not shutil.which("configurable-http-proxy"):
        return "no configurable-http-proxy (npm install -g configurable-http-proxy; .ci/run does it)"
    return ""


def run(command: list, *, timeout: float = STEP_TIMEOUT, **kwargs) -> str:
    """Run one command; its output, or a failed test that shows it."""
    return run_command(command, timeout=timeout, **kwargs)


# -- the people -----------------------------------------------------------------------------------

@dataclass
class Person:
    role: str  # instructor, ann, bob
    name: str  # their Unix account, and their hub user
    home: Path
    uid: int = -1
    gid: int = -1
    token: str = ""  # their own hub API token
    pid: int = 0  # their single-user server's process (its own process group)

    def as_them(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "cwd": self.home}


def make_account(person: Person) -> None:
    delete_account(person.name)  # a leftover of an interrupted run with the same pid
    run(["useradd", "--create-home", "--home-dir", person.home, "--shell", "/bin/sh", "--user-group", person.name],
        timeout=60)
    entry = pwd.getpwnam(person.name)
    person.uid, person.gid = entry.pw_uid, entry.pw_gid


def delete_leftover_accounts() -> None:
    """Accounts of a run that was killed before it could clean up (their home folder is gone)."""
    for entry in pwd.getpwall():
        if entry.pw_dir.startswith(f"{tempfile.gettempdir()}/course-hub-") and not Path(entry.pw_dir).exists():
            delete_account(entry.pw_name)


# -- a Python the accounts can run ------------------------------------------------------------------

def can_run(person: Person, python: Path) -> bool:
    """Can this account start `python` and read the course's packages with it? (Cheap: no imports.)"""
    purelib = sysconfig.get_paths()["purelib"]
    probe = f"import os, sys; sys.exit(not os.access({purelib + '/jupyterhub/__init__.py'!r}, os.R_OK))"
    try:
        proc = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(person.home)}, **person.as_them())
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def readable_venv(folder: Path, person: Person) -> Path | None:
    """A venv of a system Python of this version that uses the course's packages and Jupyter data."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for base in ("/usr/local/bin", "/usr/bin", "/bin"):
        system_python = Path(base) / version
        if not (system_python.exists() and can_run(person, system_python)):
            continue
        run([system_python, "-m", "venv", "--without-pip", folder], timeout=120)
        purelib = sysconfig.get_paths()["purelib"]
        site_packages = folder / "lib" / version / "site-packages"
        # addsitedir (not a bare path) so that the course's own .pth files, coursekit's among them, count too.
        (site_packages / "course.pth").write_text(f"import site; site.addsitedir({purelib!r})\n")
        for name in ("etc", "share"):  # Jupyter's config (server extensions on) and data (JupyterLab's assets)
            (folder / name).symlink_to(Path(sys.prefix) / name)
        # nbgrader's gradebook runs `alembic` by name: the course's script starts the unreachable Python.
        alembic = folder / "bin" / "alembic"
        alembic.write_text(f"#!{folder / 'bin' / 'python'}\nfrom alembic.config import main\nmain()\n")
        alembic.chmod(0o755)
        return folder / "bin"
    return None


# -- the class --------------------------------------------------------------------------------------

@dataclass
class Hub:
    base: Path  # everything of this run: homes, course, exchange, the hub's state
    url: str = ""
    token: str = ""  # the test's service token (admin of users and servers)
    people: dict[str, Person] = field(default_factory=dict)
    python_bin: Path = BIN  # the bin/ of the Python the single-user servers run
    process: subprocess.Popen | None = None
    log: Path | None = None
    outputs: dict[str, object] = field(default_factory=dict)

    @property
    def course(self) -> Path:
        return self.base / "course"

    @property
    def exchange(self) -> Path:
        return self.base / "exchange"

    @property
    def class_config(self) -> Path:
        """Stands in for /etc/jupyter: the class-wide nbgrader_config.py (course id, exchange)."""
        return self.base / "class"

    @property
    def instructor(self) -> Person:
        return self.people["instructor"]

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """The hub's REST API, as the test's service."""
        return httpx.request(method, f"{self.url}/hub/api{path}", headers={"Authorization": f"token {self.token}"},
                             timeout=HTTP_TIMEOUT, **kwargs)

    def visit(self, person: Person, method: str, path: str, **kwargs) -> httpx.Response:
        """A request through the proxy with this person's own token, as their browser's would go."""
        return httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"token {person.token}"},
                             timeout=HTTP_TIMEOUT, follow_redirects=False, **kwargs)

    def nbgrader(self, person: Person, *args: str) -> str:
        """An nbgrader command as this person types it in their JupyterLab's terminal (the server's environment)."""
        return self.python(person, "-m", "nbgrader", *args)

    def python(self, person: Person, *args: str, timeout: float = STEP_TIMEOUT) -> str:
        """The servers' Python, run as this person from the course's autograder/ (as in their terminal)."""
        config_path = os.pathsep.join([str(self.course / "autograder"), str(self.class_config)])
        env = {"HOME": str(person.home), "USER": person.name, "LOGNAME": person.name, "LANG": "C.UTF-8",
               "PATH": f"{self.python_bin}:/usr/local/bin:/usr/bin:/bin", "JUPYTER_CONFIG_PATH": config_path,
               "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        options = person.as_them() | {"cwd": self.course / "autograder"}
        return run([self.python_bin / "python", *args], env=env, timeout=timeout, **options)


def prepare_accounts(hub: Hub) -> None:
    """The three accounts, a Python they can run, the class-wide nbgrader settings and the exchange."""
    base = hub.base
    (base / "home").mkdir(mode=0o755)
    suffix = str(os.getpid())
    hub.people = {role: Person(role, f"{short}{suffix}", base / "home" / f"{short}{suffix}")
                  for role, short in (("instructor", "prof"), ("ann", "ann"), ("bob", "bob"))}
    delete_leftover_accounts()
    for person in hub.people.values():
        make_account(person)

    # The single-user servers' Python: the course's .venv if the accounts can run it, else a readable venv.
    if not can_run(hub.instructor, BIN / "python"):
        found = readable_venv(base / "python", hub.instructor)
        if found is None:
            pytest.skip(f"the course's Python ({Path(sys.executable).resolve()}) is out of other accounts' reach, "
                        "and no system Python of the same version was found")
        hub.python_bin = found

    # The class-wide nbgrader settings every account reads, and the exchange every account writes to.
    hub.class_config.mkdir(mode=0o755)
    (hub.class_config / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(hub.exchange)!r}\n"
    )
    hub.exchange.mkdir()
    hub.exchange.chmod(0o777)
    (base / "hub").mkdir(mode=0o700)  # the hub's database and cookie secret: root's only


def prepare_course(hub: Hub) -> None:
    """The instructor's course folder, theirs: sources, release, and autograder/nbgrader_config.py (the course's
    configuration pointed at this folder), laid out as the repository."""
    make_course(hub.course)
    (hub.course / "autograder" / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'autograder' / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(hub.course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{hub.course / 'autograder' / 'gradebook.db'}'\n"
    )
    run(["chown", "-R", f"{hub.instructor.uid}:{hub.instructor.gid}", hub.course], timeout=60)


def overlay(hub: Hub, port: int, hub_port: int, proxy_api_port: int) -> Path:
    """The course's hub configuration, with this run's accounts, ports, service token and Python."""
    people = hub.people
    students = {p.name for p in people.values() if p.role != "instructor"}
    environment = {"PATH": f"{hub.python_bin}:/usr/local/bin:/usr/bin:/bin",
                   "JUPYTER_CONFIG_PATH": str(hub.class_config)}
    lines = [
        "c = get_config()",
        f"load_subconfig({str(HUB_CONFIG)!r})",
        f"c.Authenticator.allowed_users = {students!r}",
        f"c.Authenticator.admin_users = {{{hub.instructor.name!r}}}",
        f"c.JupyterHub.bind_url = 'http://127.0.0.1:{port}'",
        f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{hub_port}'",
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{proxy_api_port}'",
        # The test drives the hub as a service with its own token.
        f"c.JupyterHub.services = [{{'name': 'class-test', 'api_token': {hub.token!r}}}]",
        "c.JupyterHub.load_roles = [{'name': 'class-test', 'services': ['class-test'],",
        "                            'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers']}]",
        # Stands in for /etc/jupyter, which the test must not touch.
        f"c.Spawner.environment = {environment!r}",
        # A busy machine starts three JupyterLabs at once.
        "c.Spawner.start_timeout = 120",
        "c.Spawner.http_timeout = 120",
    ]
    if hub.python_bin != REPO / ".venv" / "bin":  # the committed Spawner.cmd runs the course's .venv
        lines.append(f"c.Spawner.cmd = [{str(hub.python_bin / 'python')!r}, '-m', 'jupyterhub.singleuser']")
    path = hub.base / "hub" / "jupyterhub_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_hub(hub: Hub, meanwhile) -> None:
    """Start the hub (and its proxy) on free ports; another program may take one first: then try others.

    `meanwhile()` runs once, while the first hub starts (the machine has other work than waiting)."""
    env = dict(os.environ) | {"COURSE_DIR": str(hub.course), "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    for attempt in range(1, 4):
        port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
        config = overlay(hub, port, hub_port, proxy_api_port)
        hub.log = hub.base / "hub" / f"hub-{attempt}.log"
        with open(hub.log, "w") as log:
            hub.process = subprocess.Popen([BIN / "jupyterhub", "-f", config], cwd=hub.base / "hub", env=env,
                                           stdout=log, stderr=log, start_new_session=True)
        hub.url = f"http://127.0.0.1:{port}"
        if attempt == 1:
            meanwhile()
        deadline = time.monotonic() + HUB_START
        while time.monotonic() < deadline and hub.process.poll() is None:
            try:
                if httpx.get(f"{hub.url}/hub/api/", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        text = hub.log.read_text()
        stop_hub(hub)
        if not re.search(r"EADDRINUSE|[Aa]ddress already in use", text):
            pytest.fail(f"the hub did not answer within {HUB_START} s:\n{text[-4000:]}")
    pytest.fail("the hub found no free ports in three tries")


def start_servers(hub: Hub, meanwhile) -> None:
    """Everyone's JupyterLab, started through the hub's API (as the spawn page would), then their tokens.

    `meanwhile()` runs while the servers start."""
    for person in hub.people.values():
        response = hub.api("POST", f"/users/{person.name}/server")
        assert response.status_code in (201, 202), \
            f"starting {person.name}'s server: {response.status_code} {response.text}"
    meanwhile()
    deadline = time.monotonic() + SERVER_START
    waiting = set(hub.people)
    while waiting and time.monotonic() < deadline:
        for role in sorted(waiting):
            person = hub.people[role]
            model = hub.api("GET", f"/users/{person.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                person.pid = int(server.get("state", {}).get("pid", 0))
                waiting.discard(role)
            elif not model.get("pending") and not server:
                pytest.fail(f"{person.name}'s server stopped while starting:\n{hub.log.read_text()[-4000:]}")
        time.sleep(0.5)
    assert not waiting, f"servers not ready after {SERVER_START} s: {waiting}\n{hub.log.read_text()[-4000:]}"
    for person in hub.people.values():
        response = hub.api("POST", f"/users/{person.name}/tokens", json={"note": "class test", "expires_in": 900})
        assert response.status_code == 201, response.text
        person.token = response.json()["token"]


def stop_hub(hub: Hub) -> None:
    """Stop the hub (it stops the servers and the proxy); then anything of ours it left running."""
    proxy_pid_file = hub.base / "hub" / "jupyterhub-proxy.pid"
    if hub.process is not None and hub.process.poll() is None:
        os.killpg(hub.process.pid, signal.SIGTERM)
        try:
            hub.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.process.pid, signal.SIGKILL)
            hub.process.wait(10)
    if proxy_pid_file.exists():  # the hub removes it when it stops its proxy
        try:
            os.killpg(int(proxy_pid_file.read_text().strip()), signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        proxy_pid_file.unlink()
    for person in hub.people.values():  # a server the hub did not stop: only if it is still that account's
        try:
            if person.pid and os.stat(f"/proc/{person.pid}").st_uid == person.uid:
                os.killpg(person.pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


def release(hub: Hub) -> None:
    """The instructor releases the assignment into the exchange, from autograder/ as the README says."""
    hub.outputs["release"] = hub.nbgrader(hub.instructor, "release_assignment", ASSIGNMENT)


def walk_through(hub: Hub) -> None:
    """What the test then checks: ann lists, fetches and submits the assignment; the instructor collects."""
    ann = hub.people["ann"]
    hub.outputs["listed"] = hub.visit(ann, "GET", f"/user/{ann.name}/assignments", params={"course_id": COURSE_ID})
    for action, key in (("fetch", "fetched"), ("submit", "submitted")):  # what the list's buttons send
        hub.outputs[key] = hub.visit(ann, "POST", f"/user/{ann.name}/assignments/{action}",
                                     data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
    hub.outputs["collect"] = hub.nbgrader(hub.instructor, "collect", ASSIGNMENT)


@pytest.fixture(scope="module")
def hub():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="course-hub-"))
    base.chmod(0o755)
    hub = Hub(base, token=secrets.token_hex(16))
    try:
        prepare_accounts(hub)
        start_hub(hub, meanwhile=lambda: prepare_course(hub))
        start_servers(hub, meanwhile=lambda: release(hub))
        walk_through(hub)
        yield hub
    finally:
        stop_hub(hub)
        for person in hub.people.values():
            delete_account(person.name)
        shutil.rmtree(base, ignore_errors=True)


# -- what each person sees ----------------------------------------------------------------------------

def disabled_extensions(response: httpx.Response) -> set[str]:
    """The extensions a JupyterLab page turns off (its page config, which the labconfig folders set)."""
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', response.text, re.S)
    assert match, f"no JupyterLab page config in {response.status_code} {response.text[:500]}"
    return set(json.loads(match.group(1)).get("disabledExtensions", []))


def test_students_get_the_learners_jupyterlab(hub):
    for role in ("ann", "bob"):
        student = hub.people[role]
        lab = hub.visit(student, "GET", f"/user/{student.name}/lab")
        assert lab.status_code == 200, f"{student.name}'s /lab: {lab.status_code}"
        disabled = disabled_extensions(lab)
        assert set(INSTRUCTOR_TOOLS) <= disabled, \
            f"{student.name}'s JupyterLab should turn off nbgrader's instructor tools: {disabled}"
        assert hub.visit(student, "GET", f"/user/{student.name}/formgrader").status_code == 404, \
            f"{student.name}'s server should not serve formgrader"
        assert hub.visit(student, "GET", f"/user/{student.name}/api/status").status_code == 200


def test_the_instructor_gets_formgrader_on_the_course_with_the_class_settings(hub):
    instructor = hub.instructor
    lab = hub.visit(instructor, "GET", f"/user/{instructor.name}/lab")
    assert lab.status_code == 200, f"the instructor's /lab: {lab.status_code}"
    disabled = disabled_extensions(lab)
    assert not set(INSTRUCTOR_TOOLS) & disabled, f"the instructor keeps every nbgrader tool: {disabled}"
    formgrader = hub.visit(instructor, "GET", f"/user/{instructor.name}/formgrader")
    assert formgrader.status_code in (200, 302), f"formgrader answered {formgrader.status_code}"
    page = hub.visit(instructor, "GET", f"/user/{instructor.name}/formgrader/manage_assignments")
    assert page.status_code == 200, f"formgrader's assignments page answered {page.status_code}"
    assert COURSE_ID in page.text and str(hub.exchange) in page.text, \
        "formgrader should show the class's course id and exchange (from the class-wide nbgrader config)"
    assert "not a subdirectory of the notebook" not in page.text
    contents = hub.visit(instructor, "GET", f"/user/{instructor.name}/api/contents/solutions")
    assert contents.status_code == 200, "the instructor's JupyterLab opens on the course folder"


def test_a_student_lists_fetches_and_submits_what_the_instructor_released(hub):
    ann = hub.people["ann"]
    assert "Released as:" in hub.outputs["release"] or "Source:" in hub.outputs["release"], hub.outputs["release"]
    listed = hub.outputs["listed"]
    assert listed.status_code == 200, f"ann's assignment list: {listed.status_code} {listed.text[:500]}"
    body = listed.json()
    assert body["success"], body
    assert [(a["course_id"], a["assignment_id"], a["status"]) for a in body["value"]] == \
        [(COURSE_ID, ASSIGNMENT, "released")], f"ann's assignment list should show the released assignment: {body}"

    fetched = hub.outputs["fetched"].json()
    statuses = {a["status"] for a in fetched["value"] if a["assignment_id"] == ASSIGNMENT}
    assert fetched["success"] and "fetched" in statuses, f"fetching through the assignment list: {fetched}"
    notebook = ann.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert notebook.is_file() and notebook.stat().st_uid == ann.uid, "the fetched notebook is in ann's home, hers"

    submitted = hub.outputs["submitted"].json()
    assert submitted["success"], f"submitting through the assignment list: {submitted}"
    assert any(a["status"] == "submitted" for a in submitted["value"]), submitted

    collected = hub.course / "submitted" / ann.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert collected.is_file(), f"the instructor collects ann's submission:\n{hub.outputs['collect']}"
    assert collected.stat().st_uid == hub.instructor.uid, "the collected copy belongs to the instructor"
    assert not (hub.course / "submitted" / hub.people["bob"].name).exists(), "bob submitted nothing"


def test_a_student_cannot_open_another_persons_server(hub):
    ann, bob = hub.people["ann"], hub.people["bob"]
    for other in (bob, hub.instructor):
        response = hub.visit(ann, "GET", f"/user/{other.name}/api/contents")
        assert response.status_code == 403, f"ann opened {other.name}'s server: {response.status_code}"


def test_only_the_class_list_logs_in(hub):
    """The login form (DummyAuthenticator: any password), as a browser fills it in."""
    outcomes = {}
    for name in (hub.people["bob"].name, f"stranger{os.getpid()}"):
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT, follow_redirects=False) as browser:
            form = browser.get("/hub/login")
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
            assert form.status_code == 200 and xsrf, f"the login page: {form.status_code}"
            response = browser.post("/hub/login", data={"username": name, "password": "anything",
                                                          "_xsrf": xsrf.group(1)})
            outcomes[name] = response.status_code
    assert outcomes[hub.people["bob"].name] == 302, f"a student on the class list logs in: {outcomes}"
    assert outcomes[f"stranger{os.getpid()}"] == 403, f"someone not on the class list is turned away: {outcomes}"


# -- the same class, in a browser ----------------------------------------------------------------------

def why_no_browser() -> str:
    if CHROMIUM is None:
        return "no Chromium on this machine (CI installs Debian's chromium): the hub's browser test is skipped"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: the hub's browser test is skipped"
    return ""


def add_real_assignment(hub: Hub) -> None:
    """The course's own 01 (its source, release, mutants and alternatives) in the instructor's course folder."""
    for folder in ("solutions", "notebooks"):
        shutil.copytree(REPO / folder / REAL, hub.course / folder / REAL)
    for folder in ("mutants", "alternatives"):
        source = REPO / "autograder" / folder / f"{REAL}.toml"
        if source.exists():
            (hub.course / "autograder" / folder).mkdir(exist_ok=True)
            shutil.copy(source, hub.course / "autograder" / folder / source.name)
    run(["chown", "-R", f"{hub.instructor.uid}:{hub.instructor.gid}", hub.course], timeout=60)


def with_answers(fetched: dict, solution: dict) -> dict:
    """The fetched notebook with each answer cell written as in the solution (what a student types)."""
    def grade_id(cell: dict) -> str | None:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return meta.get("grade_id") if meta.get("solution") else None

    answers = {grade_id(c): c["source"] for c in solution["cells"] if grade_id(c)}
    for cell in fetched["cells"]:
        if grade_id(cell) in answers:
            cell["source"] = answers[grade_id(cell)]
    return fetched


def test_in_a_browser_a_student_fetches_and_submits_01_and_the_instructor_grades_it(hub, tmp_path):
    """Ann logs in on the hub's login page in headless Chromium, opens Nbgrader > Assignment List in her
    JupyterLab, fetches the course's real 01 and submits it (her answers: the solution's, written through
    her server's contents API between the two clicks); the instructor collects and runs `course grade`."""
    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ann = hub.people["ann"]
    add_real_assignment(hub)
    released = hub.nbgrader(hub.instructor, "release_assignment", REAL)
    assert (hub.exchange / COURSE_ID / "outbound" / REAL / f"{REAL}.ipynb").is_file(), released
    notebook_api = f"/user/{ann.name}/api/contents/{REAL}/{REAL}.ipynb"

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900})
        browser.set_default_timeout(BROWSER_STEP)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            # The hub's login page: DummyAuthenticator takes any password; the hub then sends her to her JupyterLab.
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", ann.name)
            page.fill("#password_input", "any password")
            page.click("#login_submit")
            page.wait_for_url(re.compile(rf"/user/{ann.name}/lab"))
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for()

            # Nbgrader > Assignment List, from the menu bar.
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
            released_row = page.locator("#released_assignments_list .list_item", has_text=REAL)
            released_row.get_by_role("button", name="Fetch").click()

            fetched_row = page.locator("#fetched_assignments_list .list_item", has_text=REAL).first
            fetched_row.get_by_role("button", name="Submit").wait_for()
            # Her work, saved by her server as she would save it from the notebook.
            fetched = hub.visit(ann, "GET", notebook_api)
            assert fetched.status_code == 200, f"the fetched notebook in ann's home: {fetched.status_code}"
            solution = json.loads((hub.course / "solutions" / REAL / f"{REAL}.ipynb").read_text())
            saved = hub.visit(ann, "PUT", notebook_api, json={
                "type": "notebook", "format": "json", "content": with_answers(fetched.json()["content"], solution)})
            assert saved.status_code == 200, f"saving ann's answers: {saved.status_code} {saved.text[:500]}"
            fetched_row.get_by_role("button", name="Submit").click()

            # The submitted list shows her submission with its time.
            submitted_row = page.locator("#submitted_assignments_list .list_item", has_text=REAL)
            submitted_row.filter(has_text=re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")).first.wait_for()
            # Her file browser shows the fetched folder once refreshed; JupyterLab's news prompt is declined.
            page.get_by_title(re.compile("Refresh the file browser")).first.click()
            page.locator(".jp-DirListing-item", has_text=REAL).wait_for()
            news = page.get_by_role("button", name="No", exact=True)
            if news.count():
                news.first.click()
                news.first.wait_for(state="hidden")
            page.mouse.move(0, 0)  # no button under the pointer in the screenshot
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()

    # On disk: the submission is in the exchange's inbound folder, hers.
    inbound = sorted((hub.exchange / COURSE_ID / "inbound").glob(f"{ann.name}+{REAL}+*"))
    assert len(inbound) == 1, f"one submission of {REAL} by ann in the exchange: {inbound}"
    assert inbound[0].stat().st_uid == ann.uid and (inbound[0] / f"{REAL}.ipynb").stat().st_uid == ann.uid, \
        "the submission in the exchange belongs to ann"

    # The instructor collects and grades, from a terminal in their JupyterLab.
    collected = hub.nbgrader(hub.instructor, "collect", REAL)
    assert (hub.course / "submitted" / ann.name / REAL / f"{REAL}.ipynb").is_file(), collected
    db = f"sqlite:///{hub.course / 'autograder' / 'gradebook.db'}"
    graded = hub.python(hub.instructor, "-m", "coursekit.grading.cli", "grade", REAL, "--course", str(hub.course),
                        "--db", db, "--jobs", "1", timeout=GRADE_TIMEOUT)
    line = re.search(rf"^{ann.name}\s+(\S+)\s+([\d.]+)/([\d.]+)(.*)$", graded, re.M)
    assert line, f"course grade should print ann's score:\n{graded}"
    status, score, max_score, notes = line.groups()
    assert status == "graded" and float(score) == float(max_score) > 0 and not notes.strip(), \
        f"ann submitted the solution's answers: full marks, nothing to review\n{graded}"

    from nbgrader.api import Gradebook
    with Gradebook(db) as gradebook:
        submission = gradebook.find_submission(REAL, ann.name)
        assert submission.score == float(max_score), "the gradebook holds ann's score"
        assert submission.timestamp is not None, "and the time she submitted"
