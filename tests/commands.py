"""What several test modules need: running a command (its output, or a failed test that shows what it
printed), a free port, a JupyterLab server started on one, and removing a throwaway Unix account."""

from __future__ import annotations

import pwd
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def run(command: list, *, timeout: float, **kwargs) -> str:
    """Run `command` (items made strings) with a time limit; return stdout + stderr.

    A command that runs past `timeout` or exits non-zero fails the test with its output."""
    try:
        proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(map(str, command[:4]))} ...` did not finish in {timeout} s:\n{exc.stdout}\n{exc.stderr}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"`{' '.join(map(str, command))}` failed ({proc.returncode}):\n{output[-4000:]}"
    return output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_jupyterlab(command: list[str], env: dict[str, str], token: str, logs: Path,
                     cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start JupyterLab on a free port and wait (60 s at most) until it answers with our token.

    JupyterLab binds the port itself, so another program may take it between our choice and its bind: with
    --port-retries=0 JupyterLab then says so and exits (instead of moving to a port we do not know), and we
    try another port.
    """
    for attempt in range(1, 4):
        port, log_path = free_port(), logs / f"jupyterlab-{attempt}.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen(command + [f"--port={port}", "--port-retries=0"], stdout=log, stderr=log,
                                      env=env, cwd=cwd, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                return server, base
            except OSError:
                pass
            if "is already in use" in log_path.read_text():
                stop(server)
                break  # the port was taken: try another one
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise RuntimeError("JupyterLab exited, or did not answer within 60 s:\n" + log_path.read_text()[-2000:])
            time.sleep(0.3)
    raise RuntimeError("JupyterLab found its port taken 3 times in a row:\n" + log_path.read_text()[-2000:])


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def delete_account(name: str) -> None:
    """Remove a throwaway Unix account and its home folder, if it exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=60)
