"""Variants of a solution notebook: mutants (plausible wrong answers) and alternatives (correct
answers written another way), plus the requirements each exercise states.

Mutants live in autograder/mutants/<assignment>.toml, next to the requirements they break:

    [[requirement]]
    answer = "ex1-factory-answer"      # grade id of the answer cell
    id     = "ex1-health-body"
    text   = "GET /health answers 200 with {status: ok, version: <the argument>}"

    [[mutant]]
    answer  = "ex1-factory-answer"
    name    = "hard-coded-version"
    mistake = "Writes the version by hand instead of using the argument."
    breaks  = ["ex1-health-body"]
    [[mutant.edit]]
    old = '"version": version'
    new = '"version": "1.0.0"'

Alternatives live in autograder/alternatives/<assignment>.toml, in the same format with
`[[alternative]]` tables and an `approach` instead of `mistake` and `breaks`.

Each variant rewrites one answer cell of the solution, either by a few exact text edits (the
mistake is visible at a glance) or by a whole new cell `source`. The grading contract
(soundness.py) demands that every mutant loses points on its own exercise, every alternative
scores full points, and every requirement is broken by at least one mutant.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from .course import Course
from .lint import nbgrader_meta


class MutantError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    assignment: str
    answer: str
    id: str
    text: str


@dataclass(frozen=True)
class Variant:
    """One answer cell of the solution rewritten (by exact edits or a whole new source)."""

    assignment: str
    answer: str
    name: str
    description: str
    edits: tuple[tuple[str, str], ...] = ()
    source: str | None = None
    breaks: tuple[str, ...] = ()
    kind: str = "mutant"  # or "alternative"

    @property
    def mistake(self) -> str:
        return self.description

    @property
    def student(self) -> str:
        """The student id this variant is graded as, when graded on its own."""
        return f"{self.kind}-{self.name}"

    def apply(self, nb: NotebookNode) -> NotebookNode:
        """A copy of `nb` with this variant's answer cell rewritten."""
        mutated = copy.deepcopy(nb)
        self.apply_in_place(mutated)
        return mutated

    def apply_in_place(self, nb: NotebookNode) -> None:
        cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == self.answer]
        if len(cells) != 1:
            raise MutantError(f"{self.assignment} {self.kind} {self.name!r}: no answer cell with grade id {self.answer!r}")
        cell = cells[0]
        if self.source is not None:
            cell.source = self.source.strip("\n")
        for old, new in self.edits:
            count = cell.source.count(old)
            if count != 1:
                raise MutantError(
                    f"{self.assignment} {self.kind} {self.name!r}: the text to replace occurs {count} times "
                    f"in {self.answer!r} (it must occur exactly once): {old!r}"
                )
            cell.source = cell.source.replace(old, new)


Mutant = Variant  # the name the rest of the course used first


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MutantError(f"{path.name}: not valid TOML ({exc})") from None


def _variants(path: Path, assignment: str, kind: str) -> list[Variant]:
    if not path.exists():
        return []
    data = _read_toml(path)
    described_by = "mistake" if kind == "mutant" else "approach"
    variants = []
    for entry in data.get(kind, []):
        missing = {"answer", "name", described_by} - set(entry)
        if missing:
            raise MutantError(f"{path.name}: a {kind} lacks {sorted(missing)}: {entry}")
        edits = tuple((e["old"], e["new"]) for e in entry.get("edit", []))
        if not edits and "source" not in entry:
            raise MutantError(f"{path.name}: {kind} {entry['name']!r} has neither edits nor a source")
        breaks = entry.get("breaks", ())
        breaks = (breaks,) if isinstance(breaks, str) else tuple(breaks)
        variants.append(Variant(assignment, entry["answer"], entry["name"], entry[described_by], edits,
                                entry.get("source"), breaks, kind))
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MutantError(f"{path.name}: {kind} names must be unique, repeated: {duplicates}")
    return variants


def load_mutants(course: Course, assignment: str) -> list[Variant]:
    return _variants(course.mutants_file(assignment), assignment, "mutant")


def load_alternatives(course: Course, assignment: str) -> list[Variant]:
    return _variants(course.alternatives_file(assignment), assignment, "alternative")


def load_requirements(course: Course, assignment: str) -> list[Requirement]:
    path = course.mutants_file(assignment)
    if not path.exists():
        return []
    requirements = []
    for entry in _read_toml(path).get("requirement", []):
        missing = {"answer", "id", "text"} - set(entry)
        if missing:
            raise MutantError(f"{path.name}: a requirement lacks {sorted(missing)}: {entry}")
        requirements.append(Requirement(assignment, entry["answer"], entry["id"], entry["text"]))
    ids = [r.id for r in requirements]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise MutantError(f"{path.name}: requirement ids must be unique, repeated: {duplicates}")
    return requirements
