"""Shared pytest set-up: keep each notebook's nbval cells on one xdist worker, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))  # for fixture_course


# The longest tests (each notebook's grading contract, a few minutes each, longest first as last
# measured) start first, so that no worker is left with one at the end while the other idles.
LONGEST_FIRST = ["11_deployment", "05_websockets", "13_capstone", "04_async_await", "09_ai_applications",
                 "10_frameworks_compared", "06_authentication", "08_streaming", "03_core_concepts",
                 "12_interview_questions", "07_databases", "02_receptionist", "01_fastapi_overview"]


SHARED_MODULE_FIXTURE = {
    "tests/test_batch_grading.py": "batch-grading",
    "tests/test_grading_outputs.py": "grading-outputs",
}


def _start_order(item) -> tuple[int, int]:
    if "test_grading_contract[" in item.nodeid:
        name = item.nodeid.split("[")[1].rstrip("]")
        return 0, LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    if "test_batch_grading" in item.nodeid:
        return 1, 0
    return 2, 0


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    items.sort(key=_start_order)  # stable: everything else keeps its order
    for item in items:
        module = item.nodeid.split("::")[0]
        if module in SHARED_MODULE_FIXTURE:
            # A costly module fixture (a graded batch, a kernel) built once, so the module stays on one worker.
            item.add_marker(pytest.mark.xdist_group(SHARED_MODULE_FIXTURE[module]))
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            # nbval runs a notebook cell by cell in one kernel: the cells must stay together.
            item.add_marker(pytest.mark.xdist_group("nbval-" + Path(item.nodeid.split("::")[0]).stem))
