"""`python -m coursekit.grading.run_nbgrader ARGS` does what `python -m nbgrader ARGS` does, a second
sooner: importing coursekit.grading first keeps jsonschema from building parsers that nbgrader never
uses (see coursekit/grading/__init__.py). The course's tools start nbgrader this way; plain nbgrader
stays the baseline in `course grade-bench`.
"""

import runpy

import coursekit.grading  # noqa: F401  (for its effect on jsonschema's optional imports)

runpy.run_module("nbgrader", run_name="__main__", alter_sys=True)
