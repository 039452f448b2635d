"""Where the course's pieces live. Every tool takes a Course, so tests can point one at a fixture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
GRADING = "grading"  # what grading writes, in the course folder (ignored by git)


def grading_dir(course_dir: Path, assignment: str | None = None) -> Path:
    """Where grading writes: grading/ASSIGNMENT/ for one assignment, grading/ for the whole course."""
    return course_dir / GRADING / assignment if assignment else course_dir / GRADING


@dataclass(frozen=True)
class Course:
    root: Path = REPO

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def release(self) -> Path:
        return self.root / "notebooks"

    @property
    def mutants_dir(self) -> Path:
        return self.root / "autograder" / "mutants"

    @property
    def alternatives_dir(self) -> Path:
        return self.root / "autograder" / "alternatives"

    @property
    def nbgrader_config(self) -> Path:
        return REPO / "autograder" / "nbgrader_config.py"

    def assignments(self) -> list[str]:
        """Assignment names (NN_slug), one per solution notebook."""
        return sorted(p.parent.name for p in self.solutions.glob("*/*.ipynb") if p.stem == p.parent.name)

    def source_notebook(self, assignment: str) -> Path:
        return self.solutions / assignment / f"{assignment}.ipynb"

    def release_notebook(self, assignment: str) -> Path:
        return self.release / assignment / f"{assignment}.ipynb"

    def mutants_file(self, assignment: str) -> Path:
        return self.mutants_dir / f"{assignment}.toml"

    def alternatives_file(self, assignment: str) -> Path:
        return self.alternatives_dir / f"{assignment}.toml"
