"""Shared pytest set-up: keep each notebook's nbval cells on one xdist worker, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))  # for fixture_course


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            # nbval runs a notebook cell by cell in one kernel: the cells must stay together.
            item.add_marker(pytest.mark.xdist_group("nbval-" + Path(item.nodeid.split("::")[0]).stem))
