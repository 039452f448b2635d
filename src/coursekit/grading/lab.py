"""JupyterLab for learners (`make lab`) and for instructors (`make instructor`).

Learners get their workspace, work/, and nbgrader's learner tools only (Validate, and the
assignment list where a class uses nbgrader's exchange): the Jupyter configuration folder
`coursekit/jupyter_learner/` turns off the instructor's extensions (Create Assignment, Formgrader,
the course list) for that server alone, through JUPYTER_CONFIG_PATH. Instructors get the whole
repository with every nbgrader tool, started from autograder/ so that formgrader reads the course's
nbgrader_config.py.

Both run as root where the user is root (containers, devcontainers, cloud notebooks), and pass any
further options to JupyterLab: `make lab ARGS="--port 8899 --no-browser"`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .course import Course
from .workspace import sync_workspace, workspace_dir

LEARNER_CONFIG = Path(__file__).resolve().parents[1] / "jupyter_learner"


@dataclass
class LabCommand:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def lab_command(course: Course, instructor: bool = False, extra: list[str] | None = None) -> LabCommand:
    """The command that starts JupyterLab for a learner (or an instructor), with `extra` options last."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    argv = [sys.executable, "-m", "jupyter", "lab"]
    if instructor:
        cwd = course.nbgrader_config.parent
        argv.append(f"--ServerApp.root_dir={course.root}")
    else:
        cwd = workspace_dir(course)
        argv.append(f"--ServerApp.root_dir={cwd}")
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(LEARNER_CONFIG), env.get("JUPYTER_CONFIG_PATH")) if p)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root without it
    return LabCommand(argv + list(extra or []), env, cwd)


def run_lab(course: Course, instructor: bool, extra: list[str]) -> int:
    """Start JupyterLab in place of this process (so Ctrl+C and signals reach it directly)."""
    if not instructor:
        for message in sync_workspace(course):
            print(message)
    command = lab_command(course, instructor, extra)
    os.chdir(command.cwd)
    os.execve(command.argv[0], command.argv, command.env)
    return 0  # not reached
