"""The real front end: JupyterLab in headless Chromium runs a released notebook, with nbgrader's Validate.

Skipped where no Chromium is installed (a learner's laptop); `.ci/run` installs Debian's chromium.
The screenshot is saved to build/screenshots/jupyterlab-01.png.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from commands import start_jupyterlab, stop
from coursekit.grading.course import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (CI installs Debian's chromium): browser test skipped")

NOTEBOOK = "01_fastapi_overview"
SCREENSHOT = REPO / "build" / "screenshots" / "jupyterlab-01.png"


@pytest.fixture
def jupyterlab(tmp_path):
    shutil.copytree(REPO / "notebooks" / NOTEBOOK, tmp_path / NOTEBOOK)
    token = "course-browser-test"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    logs = tmp_path / ".logs"  # hidden from JupyterLab's file browser (and so from the screenshot)
    logs.mkdir()
    server, base = start_jupyterlab(command, env, token, logs)
    try:
        yield base, token
    finally:
        stop(server)


def test_released_notebook_runs_in_jupyterlab_with_nbgrader_validate(jupyterlab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}/{NOTEBOOK}.ipynb?token={token}", timeout=60_000)
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=60_000)
            # nbgrader's JupyterLab extension puts a Validate button in the notebook toolbar.
            validate = page.get_by_role("button", name="Validate")
            validate.first.wait_for(timeout=30_000)
            # A fresh server may ask which kernel to start: take the notebook's own (Python 3).
            select = page.get_by_role("button", name="Select", exact=True)
            try:
                select.wait_for(timeout=5_000)
                select.click()
            except PlaywrightTimeout:
                pass
            # Start Run All without awaiting it (its promise settles only when every cell is done).
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            # Outputs, not sources: the first demo prints its greeting, and Run All stops at the
            # first exercise, whose stub tells the learner what to do.
            outputs = page.locator(".jp-OutputArea-output")
            outputs.filter(has_text="Hello from FastAPI").first.wait_for(timeout=90_000)
            stub_error = outputs.filter(has_text="Exercise not done yet")
            stub_error.first.wait_for(timeout=90_000)
            stub_error.first.scroll_into_view_if_needed()
            news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's news prompt
            if news.count():
                news.first.click()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 20_000
