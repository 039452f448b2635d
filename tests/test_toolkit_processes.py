"""Unit tests of coursekit.processes: real server processes, ports without races, cleanup always.

The servers here are a few lines of Python's http.server (they start in a fraction of a second),
not uvicorn. Whether a process was cleaned up is read from the module's own bookkeeping
(running_process_groups) and from the process's exit code, never from timing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest

from coursekit import (
    CheckFailed,
    RunningProcess,
    end_process_group,
    free_port,
    gunicorn_options,
    listening_socket,
    process_work_dir,
    running_process_groups,
    server_env,
    started_on_free_port,
    started_process,
    worker_pids,
)
from coursekit.processes import start_process_group, started_here

pytestmark = pytest.mark.anyio

# A tiny server: GET /healthz answers {"pid": ...}; /child answers the pid of a child process it started.
# With --fd N it serves on the inherited socket N, with --port P it binds 127.0.0.1:P itself.
SERVER = textwrap.dedent("""
    import http.server, json, os, socket, subprocess, sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            pid = os.getpid() if self.path == "/healthz" else child.pid
            body = json.dumps({"pid": pid}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    kind, value = sys.argv[1], int(sys.argv[2])
    if kind == "--fd":
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=value)
    else:
        server = http.server.HTTPServer(("127.0.0.1", value), Handler)
    print("serving", flush=True)
    server.serve_forever()
""")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Every test starts and ends with no process group of coursekit's still running."""
    assert running_process_groups() == set()
    yield
    assert running_process_groups() == set(), "a process group was left running"


def server_argv(kind: str, value: int) -> list:
    return [sys.executable, "-c", SERVER, kind, value]


# -- ports ----------------------------------------------------------------------------------
def test_free_port_can_be_bound_right_away():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_listening_socket_is_bound_to_loopback_and_accepts_connections():
    with listening_socket() as sock:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        with socket.create_connection((host, port), timeout=2):
            pass


# -- environment -------------------------------------------------------------------------
def test_server_env_puts_this_python_first_and_hides_settings_that_change_servers(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    monkeypatch.setenv("WEB_CONCURRENCY", "8")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 9")
    monkeypatch.setenv("COURSE_KEEP_ME", "yes")
    env = server_env(EXTRA="1")
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert env["PYTHONUNBUFFERED"] == "1" and env["EXTRA"] == "1" and env["COURSE_KEEP_ME"] == "yes"
    assert not {"FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"} & set(env)


def test_process_work_dir_is_one_existing_folder():
    assert process_work_dir() == process_work_dir()
    assert process_work_dir().is_dir()


# -- started_process ---------------------------------------------------------------------------
def test_started_process_yields_once_the_server_answers_and_ends_its_group_after():
    sock = listening_socket()
    port = sock.getsockname()[1]
    with started_process(server_argv("--fd", sock.fileno()), sock=sock, timeout=10) as server:
        assert isinstance(server, RunningProcess)
        assert sock.fileno() == -1, "the kernel's copy of the socket is closed at once"
        assert server.url == f"http://127.0.0.1:{port}"
        assert running_process_groups() == {server.pid}
        assert httpx.get(server.url + "/healthz", timeout=5).json() == {"pid": server.pid}
        assert "serving" in server.log()
    assert server.popen.returncode == -signal.SIGKILL
    assert running_process_groups() == set()


def test_started_process_kills_the_whole_group_when_the_block_fails():
    sock = listening_socket()
    with pytest.raises(CheckFailed, match="a check inside the block"):
        with started_process(server_argv("--fd", sock.fileno()), sock=sock, timeout=10) as server:
            child = httpx.get(server.url + "/child", timeout=5).json()["pid"]
            assert os.getpgid(child) == server.pid, "the child is in the server's process group"
            raise CheckFailed("a check inside the block")
    assert server.popen.returncode == -signal.SIGKILL
    assert running_process_groups() == set()


def test_started_process_fails_with_the_log_when_the_process_exits_during_start_up():
    argv = [sys.executable, "-c", "print('cannot import support_app'); raise SystemExit(3)"]
    with pytest.raises(CheckFailed) as info:
        with started_process(argv, free_port(), timeout=10):
            pytest.fail("the block should not run")
    message = str(info.value)
    assert "The process exited (code 3) before it answered GET /healthz" in message
    assert "cannot import support_app" in message


def test_started_process_fails_and_cleans_up_when_nothing_answers_in_time():
    argv = [sys.executable, "-c", "print('thinking', flush=True); import time; time.sleep(60)"]
    with pytest.raises(CheckFailed, match=r"did not answer GET /healthz on port \d+ within 0.3 s"):
        with started_process(argv, free_port(), timeout=0.3):
            pytest.fail("the block should not run")


def test_started_process_closes_the_socket_even_when_the_command_cannot_start():
    sock = listening_socket()
    with pytest.raises(FileNotFoundError):
        with started_process(["/no/such/program"], sock=sock):
            pass
    assert sock.fileno() == -1


def test_started_here_accepts_only_pids_of_the_process_group():
    popen = start_process_group([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert started_here(popen, httpx.Response(200, json={"pid": popen.pid}))
        assert not started_here(popen, httpx.Response(200, json={"pid": os.getpid()}))  # another program
        assert not started_here(popen, httpx.Response(200, json={"status": "ok"}))
        assert not started_here(popen, httpx.Response(200, text="not json"))
    finally:
        end_process_group(popen)


# -- started_on_free_port ----------------------------------------------------------------------
def test_started_on_free_port_tries_another_port_when_the_first_was_taken():
    calls = []

    def make_argv(port: int) -> list:
        calls.append(port)
        if len(calls) == 1:  # another program won the race for this port
            return [sys.executable, "-c", "print('[Errno 98] Address already in use')"]
        return server_argv("--port", port)

    with started_on_free_port(make_argv, timeout=10) as server:
        assert server.url == f"http://127.0.0.1:{calls[-1]}"
        assert httpx.get(server.url + "/healthz", timeout=5).json() == {"pid": server.pid}
    assert len(calls) == 2


def test_started_on_free_port_gives_up_after_its_attempts():
    calls = itertools.count(1)

    def make_argv(port: int) -> list:
        next(calls)
        return [sys.executable, "-c", "print('address already in use')"]

    with pytest.raises(CheckFailed, match="address already in use"):
        with started_on_free_port(make_argv, attempts=2, timeout=10):
            pytest.fail("the block should not run")
    assert next(calls) == 3, "two attempts were made"


def test_started_on_free_port_raises_other_failures_at_once():
    calls = []

    def make_argv(port: int) -> list:
        calls.append(port)
        return [sys.executable, "-c", "raise SystemExit(2)"]

    with pytest.raises(CheckFailed, match=r"exited \(code 2\)"):
        with started_on_free_port(make_argv, timeout=10):
            pass
    assert len(calls) == 1


# -- end_process_group ---------------------------------------------------------------------
def test_end_process_group_kills_and_forgets_and_may_be_called_twice():
    popen = start_process_group([sys.executable, "-c", "import time; time.sleep(60)"])
    assert popen.pid in running_process_groups()
    end_process_group(popen)
    assert popen.returncode == -signal.SIGKILL
    assert popen.pid not in running_process_groups()
    end_process_group(popen)  # already gone: no error


def test_end_process_group_accepts_a_process_started_elsewhere():
    popen = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    popen.wait(10)
    end_process_group(popen)
    assert popen.returncode == 0


# -- worker_pids ----------------------------------------------------------------------------
def pid_client(pids: list[int], calls: list[int]) -> httpx.AsyncClient:
    cycle = itertools.cycle(pids)

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"pid": next(cycle)})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://test")


async def test_worker_pids_stops_as_soon_as_enough_workers_answered():
    calls: list[int] = []
    async with pid_client([11, 11, 22, 33], calls) as client:
        assert await worker_pids(client, expected=2) == {11, 22}
    assert len(calls) == 3


async def test_worker_pids_returns_the_pids_seen_when_too_few_workers_answer():
    calls: list[int] = []
    async with pid_client([11], calls) as client:
        assert await asyncio.wait_for(worker_pids(client, expected=2, seconds=0.1), 5) == {11}


# -- gunicorn_options --------------------------------------------------------------------------
def test_gunicorn_options_reads_short_long_and_equals_forms_alike():
    short = gunicorn_options([sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", 2,
                              "-b", "127.0.0.1:9000", "--forwarded-allow-ips", "10.0.0.1", "app:app"])
    long = gunicorn_options(["gunicorn", "--worker-class=uvicorn_worker.UvicornWorker", "--workers=2",
                             "--bind=127.0.0.1:9000", "--forwarded-allow-ips=10.0.0.1", "app:app"])
    assert short == long
    assert short.app == ["app:app"] and short.workers == 2 and short.bind == ["127.0.0.1:9000"]
    assert short.worker_class == "uvicorn_worker.UvicornWorker" and short.forwarded_allow_ips == ["10.0.0.1"]


def test_gunicorn_options_gives_gunicorns_defaults_for_options_not_given():
    options = gunicorn_options(["/venv/bin/gunicorn", "app:app"])
    assert options.workers == 1 and options.worker_class == "sync"


def test_gunicorn_options_fails_on_a_command_that_is_not_gunicorn():
    with pytest.raises(CheckFailed, match="This is not a gunicorn command"):
        gunicorn_options(["uvicorn", "app:app"])


def test_gunicorn_options_fails_on_an_option_gunicorn_refuses():
    with pytest.raises(CheckFailed, match="gunicorn would refuse this command line"):
        gunicorn_options(["gunicorn", "--workers", "two", "app:app"])
