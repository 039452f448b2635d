"""Run real nbgrader in a scratch course folder, never touching the repository's gradebook.

The scratch folder mirrors the course (solutions/ as source, notebooks/ as release)
and loads autograder/nbgrader_config.py, so it grades exactly as an instructor would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .course import Course


class NbgraderFailed(RuntimeError):
    pass


# How the course's tools start nbgrader: `python -m nbgrader`, minus a slow import it never needs.
NBGRADER = [sys.executable, "-m", "coursekit.grading.run_nbgrader"]


def nbgrader_env() -> dict[str, str]:
    """The environment for an nbgrader subprocess: this Python's bin/ on PATH (nbgrader runs alembic)."""
    ensure_bin_on_path()
    env = dict(os.environ)
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return env


def ensure_bin_on_path() -> None:
    """nbgrader's Gradebook runs `alembic` as a subprocess: put this Python's bin/ on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def execute_notebook(nb: NotebookNode, folder: str, timeout: int = 30) -> NotebookNode:
    """Run a notebook in a fresh kernel as nbgrader would (errors allowed, the kernel's own log lines
    dropped); a kernel that dies while starting (two processes that start kernels at once can pick
    the same free port) is started once more. Raises nbclient's CellTimeoutError or DeadKernelError
    for a notebook that hangs or kills its kernel: the cells that ran keep their outputs."""
    from nbclient import NotebookClient

    for attempt in (1, 2):
        client = NotebookClient(nb, timeout=timeout, interrupt_on_timeout=True, allow_errors=True,
                                kernel_name="python3", resources={"metadata": {"path": folder}})
        try:
            client.execute(stderr=subprocess.DEVNULL)
            return nb
        except RuntimeError as exc:
            if attempt == 2 or "before replying to kernel_info" not in str(exc):
                raise
    return nb


@dataclass
class CellResult:
    score: float
    max_score: float
    error: str = ""  # the last lines of the cell's error output, if it failed


@dataclass
class Scratch:
    """A throw-away nbgrader course for one assignment."""

    course: Course
    assignment: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="course-nbgrader-")))

    def __post_init__(self) -> None:
        config = self.root / "nbgrader_config.py"
        # nbgrader always runs with the scratch folder as its working directory, so the folder
        # can be copied (batch grading gives each worker a copy) and still find itself.
        config.write_text(
            "import os\n"
            "c = get_config()\n"
            f"load_subconfig({str(self.course.nbgrader_config)!r})\n"
            "c.CourseDirectory.root = os.getcwd()\n"
            "c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(os.getcwd(), 'gradebook.db')\n"
        )
        shutil.copytree(self.course.solutions / self.assignment, self.root / "solutions" / self.assignment)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, *args: str, timeout: float = 1800) -> str:
        proc = subprocess.run(
            [*NBGRADER, *args],
            cwd=self.root, env=nbgrader_env(), capture_output=True, text=True, timeout=timeout,
        )
        if proc.returncode != 0:
            raise NbgraderFailed(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        return proc.stdout + proc.stderr

    def generate(self) -> Path:
        """nbgrader generate_assignment; returns the release folder of the assignment."""
        self.run("generate_assignment", self.assignment, "--force")
        return self.root / "notebooks" / self.assignment

    def submit(self, student: str, nb: NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / f"{self.assignment}.ipynb"))

    def autograde(self, *, only_new: bool = False) -> dict[str, dict[str, CellResult]]:
        """Autograde every submission (or only those not graded yet); per student, per graded cell:
        score, max and error text."""
        self.run("autograde", self.assignment, *([] if only_new else ["--force"]))
        return self.scores()

    def scores(self) -> dict[str, dict[str, CellResult]]:
        from nbgrader.api import Gradebook

        ensure_bin_on_path()
        results: dict[str, dict[str, CellResult]] = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for submission in gb.assignment_submissions(self.assignment):
                student = submission.student.id
                graded = self.root / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"
                errors = _cell_errors(graded) if graded.exists() else {}
                results[student] = {}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        results[student][grade.name] = CellResult(
                            float(grade.score or 0.0), float(grade.max_score), errors.get(grade.name, "")
                        )
        return results


def _cell_errors(path: Path) -> dict[str, str]:
    """grade id -> the tail of the error (or stderr) a graded cell produced."""
    return cell_errors(nbformat.read(str(path), as_version=4))


def cell_errors(nb: NotebookNode) -> dict[str, str]:
    """grade id -> the tail of the error (or stderr) a graded cell of an executed notebook produced."""
    errors = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[grade_id] = f"{output.get('ename')}: {output.get('evalue')}"
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                errors.setdefault(grade_id, "wrote to stderr: " + output.get("text", "")[-300:])
    return errors
