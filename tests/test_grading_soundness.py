"""The grading contract of every notebook, through real nbgrader (the slow part of the suite).

Per notebook, one generate_assignment and one autograde run of about a dozen rounds
(coursekit.grading.soundness): notebooks/ is exactly what generate_assignment makes; the
solution scores full points and the released stub zero on every test cell; every mutant loses
points on its exercise; every alternative scores full points; an unfinished exercise never
costs another one points. `course contract NN` runs the same check by hand.
"""

from __future__ import annotations

import pytest

from coursekit.grading.course import Course
from coursekit.grading.soundness import check_contract

COURSE = Course()


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_grading_contract(assignment):
    problems = check_contract(COURSE, assignment)
    assert not problems, "\n".join(problems)
