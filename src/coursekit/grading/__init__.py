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

import sys

# jsonschema (imported by nbformat, nbclient and nbgrader) builds ~35 Lark parsers when it imports
# `rfc3987_syntax`, only to check the "iri" string format: about 1.2 s of CPU in every process that
# reads a notebook (python-jsonschema/jsonschema#1428). No notebook schema uses that format, so the
# course's tools tell Python the package is absent (jsonschema then skips that one check), unless
# jsonschema was imported already. Kernels and the learner's JupyterLab are not affected.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
