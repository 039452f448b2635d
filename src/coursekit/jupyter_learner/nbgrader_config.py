# nbgrader as a learner sees it in `make lab`: Validate and the assignment list only.
# The instructor's configuration is autograder/nbgrader_config.py (used by `make instructor`).
c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)
