"""Class report from the gradebook: which exercises the class fails most, and how scores spread.

Writes class-report.csv (one row per exercise) and class-report.png (pass rate per
exercise, hardest first, and the distribution of total scores), the assignment's grades
table (one row per student, one column per exercise) and the course-wide grades table (one
row per student, one column per assignment graded so far). All come from the gradebook, so
they hold every machine's students when several grade one assignment (`course grade --shard`),
and each file is replaced whole (written beside it, then renamed), so machines that share the
course folder never leave one half-written.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from .lint import exercises
from .nbgrader import ensure_bin_on_path


@contextmanager
def replaced(path: Path, mode: str = "w") -> Iterator[IO]:
    """A file to write `path` with: a temporary file beside it, renamed over it once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"newline": ""} if "b" not in mode else {})) as f:
            yield f
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ExerciseStats:
    number: int
    grade_id: str
    max_score: float
    mean: float
    pass_rate: float  # share of students with full points


def class_stats(db_url: str, assignment: str, source_notebook: Path) -> tuple[list[ExerciseStats], list[float], float]:
    """Per-exercise statistics, every student's total, and the maximum total."""
    from nbgrader.api import Gradebook

    ensure_bin_on_path()
    pairs = exercises(source_notebook)
    scores: dict[str, list[float]] = {test_id: [] for _, test_id, _ in pairs}
    totals = []
    with Gradebook(db_url) as gb:
        for submission in gb.assignment_submissions(assignment):
            totals.append(float(submission.score))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in scores:
                        scores[grade.name].append(float(grade.score or 0))
    stats = []
    for number, (_, test_id, points) in enumerate(pairs, start=1):
        got = scores[test_id]
        count = len(got) or 1
        stats.append(ExerciseStats(number, test_id, points, sum(got) / count, sum(s >= points for s in got) / count))
    return stats, totals, sum(p for _, _, p in pairs)


def write_assignment_grades(db_url: str, assignment: str, source_notebook: Path, path: Path) -> Path:
    """One row per student with a submission of `assignment` in the gradebook: the total and each exercise's points."""
    from nbgrader.api import Gradebook

    ensure_bin_on_path()
    pairs = exercises(source_notebook)
    max_total = sum(p for _, _, p in pairs)
    rows = []
    with Gradebook(db_url) as gb:
        for submission in gb.assignment_submissions(assignment):
            points = {grade.name: float(grade.score or 0) for notebook in submission.notebooks for grade in notebook.grades}
            rows.append([submission.student.id, assignment, f"{float(submission.score):g}", f"{max_total:g}",
                         *[f"{points.get(test_id, 0.0):g}" for _, test_id, _ in pairs]])
    with replaced(path) as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", *[test_id for _, test_id, _ in pairs]])
        writer.writerows(sorted(rows))
    return path


def write_course_grades(db_url: str, path: Path) -> Path:
    """Every student's total for every assignment in the gradebook (blank: no submission), and the sum."""
    from nbgrader.api import Gradebook

    ensure_bin_on_path()
    with Gradebook(db_url) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        totals: dict[str, dict[str, float]] = {s.id: {} for s in gb.students}
        for assignment in assignments:
            for submission in gb.assignment_submissions(assignment):
                totals.setdefault(submission.student.id, {})[assignment] = float(submission.score)
    with replaced(path) as f:
        writer = csv.writer(f)
        writer.writerow(["student", *assignments, "total"])
        for student in sorted(totals):
            scores = totals[student]
            writer.writerow([student, *[f"{scores[a]:g}" if a in scores else "" for a in assignments],
                             f"{sum(scores.values()):g}"])
    return path


def plot_score_distribution(ax: Any, totals: list[float], max_total: float) -> None:
    """Histogram of total scores: whole students on the y axis, at most about 15 labels on the x axis."""
    from matplotlib.ticker import MaxNLocator

    width = max(1, math.ceil((max_total + 1) / 40))  # one bar per point, up to 40 bars
    edges = [x * width - 0.5 for x in range(math.ceil((max_total + 1) / width) + 1)]
    ax.hist(totals, bins=edges, color="#4f81bd", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=15, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"total score (out of {max_total:g})" + (f"; a bar spans {width} points" if width > 1 else ""))
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({len(totals)} submissions)")


def write_report(db_url: str, assignment: str, source_notebook: Path, out_dir: Path) -> tuple[Path, Path, str]:
    """Write the CSV and the plot; return their paths and a text table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats, totals, max_total = class_stats(db_url, assignment, source_notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "class-report.csv", out_dir / "class-report.png"
    with replaced(csv_path) as f:
        writer = csv.writer(f)
        writer.writerow(["exercise", "test_cell", "max_points", "mean_points", "pass_rate"])
        for s in stats:
            writer.writerow([s.number, s.grade_id, f"{s.max_score:g}", f"{s.mean:.2f}", f"{s.pass_rate:.2f}"])

    hardest = sorted(stats, key=lambda s: s.pass_rate)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [f"Ex {s.number}\n{s.grade_id}" for s in hardest]
    bars = left.barh(labels, [100 * s.pass_rate for s in hardest], color="#c0504d")
    left.bar_label(bars, labels=[f"{100 * s.pass_rate:.0f}%" for s in hardest], padding=3)
    left.set_xlim(0, 110)
    left.invert_yaxis()
    left.set_xlabel("students with full points (%)")
    left.set_title("Exercises, hardest first")
    plot_score_distribution(right, totals, max_total)
    fig.suptitle(f"{assignment}: class report")
    fig.tight_layout()
    with replaced(png_path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)

    lines = [f"{'exercise':10} {'test cell':24} {'pass rate':>9} {'mean':>11}"]
    for s in hardest:
        lines.append(f"{'Ex ' + str(s.number):10} {s.grade_id:24} {100 * s.pass_rate:8.0f}% {s.mean:5.2f}/{s.max_score:<5g}")
    return csv_path, png_path, "\n".join(lines)
