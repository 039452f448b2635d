"""Course tools for authors, instructors and CI (not imported by notebooks).

    course.py     where things are: assignments, solutions, releases, mutants
    authoring.py  build nbgrader cells and notebooks from Python (fixtures, scripts)
    lint.py       metadata lint of source and release notebooks
    nbgrader.py   run real nbgrader (generate_assignment, autograde) in a scratch course
    mutants.py    the plausible wrong answers kept in autograder/mutants/*.toml
    soundness.py  the grading contract: solution full, stub zero, every mutant loses points
    deps.py       the pinned dependency set (requirements.lock, environment.yml)
    cli.py        the `course` command
"""
