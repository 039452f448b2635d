"""The grading contract of every notebook, through real nbgrader (the slow part of the suite).

- notebooks/ is exactly what generate_assignment makes from solutions/;
- the solution scores full points, the released stub zero, on every test cell;
- every mutant in autograder/mutants/ loses points on its exercise and only there.

Mutants are graded in chunks so that pytest-xdist spreads them over the cores.
"""

from __future__ import annotations

import pytest

from coursekit.grading.course import Course
from coursekit.grading.mutants import MutantError, load_mutants
from coursekit.grading.soundness import check_mutants, check_reference, check_release_in_sync

COURSE = Course()
CHUNK = 6

def mutant_chunks() -> list:
    """One test per chunk of each notebook's mutants; a broken mutants file fails its own test only."""
    params = []
    for assignment in COURSE.assignments():
        try:
            count = len(load_mutants(COURSE, assignment))
        except MutantError:
            params.append(pytest.param(assignment, 0, id=f"{assignment}-mutants-file"))  # fails with the error
            continue
        params += [pytest.param(assignment, start, id=f"{assignment}-mutants-{start // CHUNK + 1}")
                   for start in range(0, count, CHUNK)]
    return params


MUTANT_CHUNKS = mutant_chunks()


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_release_is_generated_from_solutions(assignment, tmp_path):
    problems = check_release_in_sync(COURSE, assignment, tmp_path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_solution_scores_full_and_stub_scores_zero(assignment):
    problems = check_reference(COURSE, assignment)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment,start", MUTANT_CHUNKS)
def test_every_mutant_loses_points(assignment, start):
    mutants = load_mutants(COURSE, assignment)[start : start + CHUNK]
    problems = check_mutants(COURSE, assignment, mutants)
    assert not problems, "\n".join(problems)
