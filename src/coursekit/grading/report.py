"""Class report from the gradebook: which exercises the class fails most, and how scores spread.

Writes class-report.csv (one row per exercise) and class-report.png (pass rate per
exercise, hardest first, and the distribution of total scores).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .lint import exercises
from .nbgrader import ensure_bin_on_path


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


def write_report(db_url: str, assignment: str, source_notebook: Path, out_dir: Path) -> tuple[Path, Path, str]:
    """Write the CSV and the plot; return their paths and a text table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats, totals, max_total = class_stats(db_url, assignment, source_notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "class-report.csv", out_dir / "class-report.png"
    with open(csv_path, "w", newline="") as f:
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
    edges = [x - 0.5 for x in range(int(max_total) + 2)]  # one bar per whole point
    right.hist(totals, bins=edges, color="#4f81bd", edgecolor="white")
    right.set_xticks(range(int(max_total) + 1))
    right.set_xlabel(f"total score (out of {max_total:g})")
    right.set_ylabel("students")
    right.set_title(f"Score distribution ({len(totals)} submissions)")
    fig.suptitle(f"{assignment}: class report")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)

    lines = [f"{'exercise':10} {'test cell':24} {'pass rate':>9} {'mean':>11}"]
    for s in hardest:
        lines.append(f"{'Ex ' + str(s.number):10} {s.grade_id:24} {100 * s.pass_rate:8.0f}% {s.mean:5.2f}/{s.max_score:<5g}")
    return csv_path, png_path, "\n".join(lines)
