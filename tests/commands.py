"""Running a command from a test: its output, or a failed test that shows what it printed."""

from __future__ import annotations

import subprocess

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
