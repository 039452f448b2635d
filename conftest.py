"""Shared pytest set-up: keep each notebook's nbval cells on one xdist worker, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))  # for fixture_course


# Longest first, so that no worker is left with a long test at the end while the others idle: the
# grading contracts (one to three and a half minutes each, ordered as last measured), then the modules
# with a costly shared set-up or long single tests (half a minute to two minutes), then each
# notebook's nbval run, then the many short tests.
LONGEST_FIRST = ["11_deployment", "05_websockets", "09_ai_applications", "13_capstone", "04_async_await",
                 "08_streaming", "10_frameworks_compared", "06_authentication", "07_databases",
                 "12_interview_questions", "02_receptionist", "03_core_concepts", "01_fastapi_overview"]
LONG_MODULES = ["tests/test_batch_grading.py", "tests/test_grading_outputs.py", "tests/test_exchange_workflow.py",
                "tests/test_jupyterhub_class.py", "tests/test_checks_can_fail.py", "tests/test_sharded_grading.py",
                "tests/conformance/"]


SHARED_MODULE_FIXTURE = {
    "tests/test_batch_grading.py": "batch-grading",
    "tests/test_grading_outputs.py": "grading-outputs",
}


def _start_order(item) -> tuple[int, int]:
    if "test_grading_contract[" in item.nodeid:
        name = item.nodeid.split("[")[1].rstrip("]")
        return 0, LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    for rank, prefix in enumerate(LONG_MODULES):
        if item.nodeid.startswith(prefix):
            return 1, rank
    if ".ipynb" in item.nodeid:
        return 2, 0
    return 3, 0


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
