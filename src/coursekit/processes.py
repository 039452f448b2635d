"""Run servers as real processes, and always clean them up: notebook 11 (deployment).

    sock = listening_socket()
    argv = [sys.executable, "-m", "uvicorn", "support_app:app", "--fd", sock.fileno()]
    with started_process(argv, sock=sock) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            ...

Each process starts in its own process group, in `process_work_dir()`, with its
output in a log file there (never in the notebook). `started_process` waits until
GET /healthz answers from that very process, and when the `with` block ends, also
when it fails, it kills the process and everything it started. That is cleanup,
not a graceful stop (notebook 11 teaches the graceful stop in its Exercise 4).

Ports without races: a port chosen free in one process and bound in another can
be taken by another program in between. So the kernel binds the port itself
(`listening_socket()`) and hands the socket to the server (`uvicorn --fd N`).
A command that must bind its own port (gunicorn) goes through
`started_on_free_port`, which tries another port when the first one was taken.

Every process group started here is remembered until it is ended:
`running_process_groups()` says which are still running, and any left when the
interpreter exits are killed then.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from .checks import CheckFailed, fail

# What servers write when another program holds their port (uvicorn and gunicorn say the first, nginx either).
PORT_TAKEN = re.compile(r"address already in use|connection in use", re.IGNORECASE)

# Variables that would silently change a server's settings: server_env() leaves them out.
_HIDDEN_VARIABLES = frozenset({"FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"})

_work_dir: Path | None = None
_running: dict[int, subprocess.Popen] = {}  # process group id (= the leader's pid) -> the leader


def process_work_dir() -> Path:
    """The folder in which processes started here run and write their logs.

    One temporary folder per interpreter (per kernel), made on first use and removed when the
    interpreter exits. Notebook 11 writes its app modules and databases there too.
    """
    global _work_dir
    if _work_dir is None:
        _work_dir = Path(tempfile.mkdtemp(prefix="course-processes-"))
        atexit.register(shutil.rmtree, _work_dir, True)
    return _work_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now.

    Another program may take it before you bind it: prefer `listening_socket()`, or go through
    `started_on_free_port`, which tries again when that happens.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_socket() -> socket.socket:
    """A TCP socket already bound to a free port on 127.0.0.1, and listening.

    Hand it to a server process (`uvicorn --fd N` with `started_process(..., sock=...)`): no other
    program can take the port in between. Its port: `sock.getsockname()[1]`.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a server process, built from this interpreter's.

    The `bin/` folder of this Python comes first on PATH (so `uvicorn`, `gunicorn` and `python` are
    the course's), output is unbuffered, and FORWARDED_ALLOW_IPS, WEB_CONCURRENCY and GUNICORN_CMD_ARGS
    are left out (they would silently change a server's settings). Keyword arguments are added last:
    `server_env(SUPPORT_COUNTER_FILE="/tmp/hits.txt")`.
    """
    env = {name: value for name, value in os.environ.items() if name not in _HIDDEN_VARIABLES}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class RunningProcess:
    """A server process started by `started_process()`: .popen, .url (http://127.0.0.1:<port>), .log_path."""

    popen: subprocess.Popen
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id (also the id of its process group)."""
        return self.popen.pid

    def log(self, last: int = 12) -> str:
        """The last `last` lines the process wrote (its stdout and stderr both go to the log file)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last:]) or "<no output>"


def start_process_group(argv: Sequence[Any], **popen_options: Any) -> subprocess.Popen:
    """subprocess.Popen(argv) as the leader of a new process group, remembered until it is ended.

    Arguments are turned into strings; stdin is /dev/null unless given. End it with
    `end_process_group(popen)`; `running_process_groups()` lists those not ended yet.
    """
    popen_options.setdefault("stdin", subprocess.DEVNULL)
    popen = subprocess.Popen([str(part) for part in argv], start_new_session=True, **popen_options)
    _running[popen.pid] = popen
    return popen


def end_process_group(popen: subprocess.Popen) -> None:
    """Cleanup, not a graceful stop: SIGKILL the process and every process it started (its group).

    Waits up to 5 s for the process to be gone. Safe to call on a process that has already
    exited, and more than once.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(5)
    _running.pop(popen.pid, None)


def running_process_groups() -> set[int]:
    """The process groups started here (by started_process, run_nginx, start_process_group) not ended yet."""
    return set(_running)


@atexit.register
def _end_leftovers() -> None:
    for popen in list(_running.values()):
        end_process_group(popen)


def started_here(popen: subprocess.Popen, answer: httpx.Response) -> bool:
    """Did this answer come from `popen` or a process it started?

    The apps run by the course answer GET /healthz with their pid; the answer counts only if that pid
    is in popen's process group. False for any other answer (another program on the port).
    """
    try:
        pid = answer.json().get("pid")
        return isinstance(pid, int) and os.getpgid(pid) == popen.pid
    except (ValueError, AttributeError, ProcessLookupError, PermissionError):
        return False


def _indented_log(process: RunningProcess) -> str:
    return textwrap.indent(process.log(), "    ")


def _wait_until_ready(process: RunningProcess, argv: list[str], port: int | None, ready_path: str,
                      timeout: float) -> None:
    popen = process.popen
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            fail(f"The process exited (code {popen.returncode}) before it answered GET {ready_path}.\n"
                 f"  command: {shlex.join(argv)}\n  its last output:\n{_indented_log(process)}")
        if PORT_TAKEN.search(process.log_path.read_text(errors="replace")):
            fail(f"Port {port} was taken by another program before the process could bind it "
                 f"(address already in use).\n  command: {shlex.join(argv)}")
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(process.url + ready_path, timeout=0.5)
            if answer.status_code < 500 and started_here(popen, answer):
                return
        if time.monotonic() > deadline:
            fail(f"The process did not answer GET {ready_path} on port {port} within {timeout:g} s.\n"
                 f"  command: {shlex.join(argv)}\n  its last output:\n{_indented_log(process)}")
        time.sleep(0.05)


@contextmanager
def started_process(argv: Sequence[Any], port: int | None = None, *, sock: socket.socket | None = None,
                    ready_path: str = "/healthz", timeout: float = 15.0,
                    env: dict[str, str] | None = None) -> Iterator[RunningProcess]:
    """Run `argv` as a new process group; yield a RunningProcess once GET <ready_path> answers.

    Arguments:
        argv: the command; numbers are fine (they are turned into strings).
        port: the port the process binds itself (127.0.0.1:<port>); not needed with `sock`.
        sock: a socket from listening_socket(). The process inherits it (pass `--fd sock.fileno()`)
            and the port is the socket's; this interpreter closes its own copy at once, so the
            port closes with the server.
        ready_path: the path that answers, with the server's pid in a JSON "pid" field, once it is ready.
        timeout: seconds to wait for that answer (each probe waits at most 0.5 s).
        env: the process's environment; server_env() when not given.

    The process runs in process_work_dir() with its output in a log file there. When the block
    ends, also when it fails, the process and all it started are killed (end_process_group).
    Raises CheckFailed, with the end of the log, if the process exits or stays silent during
    start-up, or if another program took its port ("address already in use").
    """
    argv = [str(part) for part in argv]
    if sock is not None:
        port = sock.getsockname()[1]
    try:
        log_path = process_work_dir() / f"process-{port}.log"
        with open(log_path, "wb") as log:
            popen = start_process_group(argv, cwd=process_work_dir(), env=env or server_env(), stdout=log,
                                        stderr=subprocess.STDOUT,
                                        pass_fds=() if sock is None else (sock.fileno(),))
    finally:
        if sock is not None:
            sock.close()
    process = RunningProcess(popen, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_ready(process, argv, port, ready_path, timeout)
        yield process
    finally:
        end_process_group(popen)


@contextmanager
def started_on_free_port(make_argv: Callable[[int], Sequence[Any]], *, attempts: int = 3,
                         **options: Any) -> Iterator[RunningProcess]:
    """started_process(make_argv(port), port) for a command that binds a port itself.

    A port chosen free here and bound in another process can be taken by another program in
    between: when the start fails that way ("address already in use"), this tries another free
    port, up to `attempts` times. Other failures are raised at once. Options go to started_process.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        stack = contextlib.ExitStack()
        try:
            process = stack.enter_context(started_process(make_argv(port), port, **options))
        except CheckFailed as exc:
            stack.close()
            if attempt < attempts and PORT_TAKEN.search(str(exc)):
                continue
            raise
        with stack:
            yield process
        return


async def worker_pids(client: httpx.AsyncClient, expected: int, seconds: float = 5.0) -> set[int]:
    """The worker pids seen by calling GET /healthz (which answers {"pid": ...}).

    Calls it until `expected` different pids have answered or `seconds` have passed, and returns
    the pids seen either way (compare the count with what you expected). Each request also waits
    at most `seconds`.
    """
    pids: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(pids) < expected and time.monotonic() < deadline:
        answer = await asyncio.wait_for(client.get("/healthz"), seconds)
        pids.add(answer.json()["pid"])
        await asyncio.sleep(0.01)
    return pids


def gunicorn_options(argv: Sequence[Any]) -> SimpleNamespace:
    """Read a gunicorn command line with gunicorn's own option parser.

    `-w 2`, `--workers 2` and `--workers=2` all read the same. Returns .app (a list), .worker_class,
    .workers, .bind (a list) and .forwarded_allow_ips (a list), with gunicorn's defaults for the
    options not given. Everything up to the `gunicorn` word (python -m, a path) is skipped.
    Raises CheckFailed if there is no `gunicorn` in argv, or if gunicorn would refuse the options.
    """
    from gunicorn.config import Config  # gunicorn is needed by this function only

    args = [str(part) for part in argv]
    starts = [index for index, part in enumerate(args) if Path(part).name == "gunicorn"]
    if not starts:
        fail(f"This is not a gunicorn command (no 'gunicorn' in it): {args}")
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(errors):
            parsed = Config().parser().parse_args(args[starts[0] + 1:])
    except SystemExit:
        fail(f"gunicorn would refuse this command line: {errors.getvalue().strip()}\n  command: {args}")
    config = Config()
    for name, value in vars(parsed).items():
        if value is not None and name != "args":
            config.set(name.lower(), value)
    return SimpleNamespace(app=parsed.args, worker_class=config.worker_class_str, workers=config.workers,
                           bind=list(config.bind), forwarded_allow_ips=list(config.forwarded_allow_ips))
