"""Serve a solution notebook's apps on real sockets, for clients that nobody in this course wrote.

    with served("08_streaming", {"openai": "openai_app"}) as urls:
        openai.OpenAI(base_url=urls["openai"] + "/v1", ...)

A fresh kernel runs what the named apps need from the reference solution (its set-up cells, its
answer cells and the demo cells that build something an answer or an app uses; test cells and
plain demos are left out, much as in the grading contract's lean runs), then serves each app with the
toolkit's `serve()` (uvicorn on 127.0.0.1, a port bound before the server starts). The servers
live as long as the kernel: the `with` block's end shuts both down.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import nbformat
from nbclient import NotebookClient

from coursekit.grading.course import REPO
from coursekit.grading.lint import nbgrader_meta
from coursekit.grading.nbgrader import nbgrader_env
from coursekit.grading.soundness import lean_notebook

CELL_TIMEOUT = 60  # seconds per cell: the slowest set-up cell takes a few


def serving_notebook(notebook: str, apps: dict[str, str], prelude: str = "") -> nbformat.NotebookNode:
    """The solution notebook cut down to what `apps` (name -> Python expression) need, plus a last
    cell that serves them and prints {name: base URL} as JSON. `prelude` runs first (environment)."""
    nb = nbformat.read(REPO / "solutions" / notebook / f"{notebook}.ipynb", as_version=4)
    nb = copy.deepcopy(nb)
    # Test cells go: they check, they do not build (and some reset or reconfigure what they check).
    nb.cells = [c for c in nb.cells if not (nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution"))]
    entries = ", ".join(f"{name!r}: {expression}" for name, expression in apps.items())
    serve_cell = nbformat.v4.new_code_cell(
        "import json as _json\n"
        "from coursekit import server as _server\n"
        f"_serving = {{name: _server.serve(app) for name, app in {{{entries}}}.items()}}\n"
        "_urls = {name: context.__enter__().url for name, context in _serving.items()}\n"
        "print(_json.dumps(_urls))\n"
    )
    serve_cell.metadata["nbgrader"] = {"grade_id": "conformance-serve", "grade": False, "solution": False}
    nb.cells.append(serve_cell)
    nb = lean_notebook(nb)
    if prelude:
        nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
    return nb


@contextmanager
def served(notebook: str, apps: dict[str, str], prelude: str = "") -> Iterator[dict[str, str]]:
    """Serve `apps` (name -> expression in the solution's namespace); yield name -> base URL."""
    nbgrader_env()  # this Python's bin/ on PATH, for the kernel
    nb = serving_notebook(notebook, apps, prelude)
    with tempfile.TemporaryDirectory(prefix=f"course-served-{notebook[:2]}-") as folder:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": folder}})
        with client.setup_kernel(stderr=subprocess.DEVNULL):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
            yield json.loads(printed.strip().splitlines()[-1])
