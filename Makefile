# Two commands for everyone (see README.md):
#   make lab    set up .venv and open JupyterLab on the course
#   make test   set up .venv and run every test (what CI runs)
# Only Python 3.11+ and make are needed; everything else is installed into .venv.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 4
# bash with pipefail: a failing install must stop make even when its output goes through a filter.
SHELL       := bash
.SHELLFLAGS := -eo pipefail -c

.PHONY: setup lab instructor test progress release lock bench clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	@echo "Setting up .venv (first time only): about 170 pinned packages, 3 to 4 minutes on a fresh 2-core machine."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -r requirements.lock | { grep -E '^(Collecting|Successfully installed)' || true; } | cut -c1-100
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Only install (the devcontainer runs this once).
setup: $(STAMP)

# Your work lives in work/ (git-ignored), copied from notebooks/: `git pull` never conflicts with it.
# Options for JupyterLab go in ARGS, e.g. make lab ARGS="--port 8899 --no-browser".
lab: $(STAMP)
	$(BIN)/course lab $(ARGS)

# For instructors: the whole course, with nbgrader's Create Assignment and Formgrader.
instructor: $(STAMP)
	$(BIN)/course lab --instructor $(ARGS)

# What passes in your notebooks (all, or NB=01 for one), and what to do next.
progress: $(STAMP)
	$(BIN)/course progress $(NB)

# Four workers on two cores: much of the suite waits on kernels, servers and sockets, not on the CPU
# (measured: 3 workers kept the cores 83% busy, 4 workers 92% and the suite 11% shorter).
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

# Regenerate notebooks/ (the student release) from solutions/ with nbgrader.
release: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/course release

# Every speed figure against its budget (about 25 minutes: it runs the suite from a fresh clone).
bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/course bench --suite

# After editing the direct dependencies in pyproject.toml: re-pin the whole tree.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --disable-pip-version-check -e .
	.lockvenv/bin/python -m coursekit.grading.deps write-lock .lockvenv/bin/python
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .pytest_cache
