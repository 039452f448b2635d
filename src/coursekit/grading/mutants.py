"""Mutants: plausible wrong answers, kept in autograder/mutants/<assignment>.toml.

Each mutant rewrites one answer cell of the solution notebook, either by a few
exact text edits (the usual case: the mistake is visible at a glance) or by a
whole new cell source:

    [[mutant]]
    answer  = "health-answer"          # grade id of the answer cell
    name    = "hard-coded-version"
    mistake = "Writes the version by hand instead of using the argument."
    [[mutant.edit]]
    old = '"version": version'
    new = '"version": "1.0.0"'

Every mutant must lose points on its own exercise and keep full points on the
others (exercises are independent); soundness.py checks both through nbgrader.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass

from nbformat.notebooknode import NotebookNode

from .course import Course
from .lint import nbgrader_meta


class MutantError(ValueError):
    pass


@dataclass(frozen=True)
class Mutant:
    assignment: str
    answer: str
    name: str
    mistake: str
    edits: tuple[tuple[str, str], ...] = ()
    source: str | None = None

    @property
    def student(self) -> str:
        """The student id this mutant is graded as."""
        return f"mutant-{self.name}"

    def apply(self, nb: NotebookNode) -> NotebookNode:
        """A copy of `nb` with this mutant's answer cell rewritten."""
        mutated = copy.deepcopy(nb)
        cells = [c for c in mutated.cells if nbgrader_meta(c).get("grade_id") == self.answer]
        if len(cells) != 1:
            raise MutantError(f"{self.assignment} mutant {self.name!r}: no answer cell with grade id {self.answer!r}")
        cell = cells[0]
        if self.source is not None:
            cell.source = self.source.strip("\n")
        for old, new in self.edits:
            count = cell.source.count(old)
            if count != 1:
                raise MutantError(
                    f"{self.assignment} mutant {self.name!r}: the text to replace occurs {count} times "
                    f"in {self.answer!r} (it must occur exactly once): {old!r}"
                )
            cell.source = cell.source.replace(old, new)
        return mutated


def load_mutants(course: Course, assignment: str) -> list[Mutant]:
    path = course.mutants_file(assignment)
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MutantError(f"{path.name}: not valid TOML ({exc})") from None
    mutants = []
    for entry in data.get("mutant", []):
        missing = {"answer", "name", "mistake"} - set(entry)
        if missing:
            raise MutantError(f"{path.name}: a mutant lacks {sorted(missing)}: {entry}")
        edits = tuple((e["old"], e["new"]) for e in entry.get("edit", []))
        if not edits and "source" not in entry:
            raise MutantError(f"{path.name}: mutant {entry['name']!r} has neither edits nor a source")
        mutants.append(Mutant(assignment, entry["answer"], entry["name"], entry["mistake"], edits, entry.get("source")))
    names = [m.name for m in mutants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MutantError(f"{path.name}: mutant names must be unique, repeated: {duplicates}")
    return mutants
