"""A failed check, run by a real kernel, is an ordinary error output whose text is the check's message.

IPython gives up on exceptions whose context holds an exception group (anyio wraps every error
raised inside `async with app_client(...)`): it prints a raw traceback to stderr, which nbgrader
grades as a failure with the wrong text, and in the first cell a kernel runs it never replies.
These tests run failing test cells through a real kernel in both positions.
"""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from coursekit.grading.progress import run_notebook

APP = '''
from fastapi import FastAPI
from coursekit import app_client, expect, expect_status
app = FastAPI()

@app.get("/health")
async def health():
    return {"status": "ok"}
'''

INSIDE_CLIENT = '''
async with app_client(app) as client:
    r = await client.get("/health")
    expect_status(r, 404, hint="raise HTTPException(404)")
'''

OUTSIDE_CLIENT = 'expect(1 + 1 == 3, "one plus one should be three", hint="count again")'

MESSAGE_INSIDE = ("GET /health should answer 404, but it answered 200.\n  request:  GET /health\n"
                  "  response: 200 OK\n  body:     {\"status\":\"ok\"}\nHint: raise HTTPException(404)")
MESSAGE_OUTSIDE = "one plus one should be three\nHint: count again"


def run(sources: list[str], timeout: int = 60) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s.strip()) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3").execute()
    return nb


def only_error(cell) -> nbformat.NotebookNode:
    kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
    assert kinds == [("error", None)], f"expected one error output and nothing else (no stderr), got {kinds}"
    return cell.outputs[0]


def plain(lines: list[str]) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


def test_failed_checks_are_plain_error_outputs_in_both_positions():
    # First cell of the kernel fails inside app_client; then one outside; then inside again
    # after a failure; the kernel still answers at the end.
    nb = run([APP + INSIDE_CLIENT, OUTSIDE_CLIENT, INSIDE_CLIENT, 'print("kernel answers")'], timeout=30)
    first_line = (APP + INSIDE_CLIENT).strip().splitlines().index('    expect_status(r, 404, hint="raise HTTPException(404)")') + 1
    for cell, message, line in ((nb.cells[0], MESSAGE_INSIDE, first_line), (nb.cells[1], MESSAGE_OUTSIDE, 1),
                                (nb.cells[2], MESSAGE_INSIDE, 3)):
        error = only_error(cell)
        assert error.ename == "CheckFailed"
        assert error.evalue == message
        text = plain(error.traceback)
        assert text == f"CheckFailed: {message}\n(the check at line {line} of this cell failed)", text
        assert "coursekit" not in text and "site-packages" not in text and "Traceback" not in text
    assert [o.get("text") for o in nb.cells[3].outputs] == ["kernel answers\n"]


def test_other_errors_keep_the_usual_traceback_without_stderr():
    nb = run([APP + 'async with app_client(app) as client:\n    {}["missing"]', "def broken(:\n    pass",
              'print("kernel answers")'], timeout=30)
    error = only_error(nb.cells[0])
    assert error.ename == "KeyError" and "----> " in plain(error.traceback)
    assert only_error(nb.cells[1]).ename == "SyntaxError"
    assert [o.get("text") for o in nb.cells[2].outputs] == ["kernel answers\n"]


def test_progress_shows_the_check_message(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(APP.strip()),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\npass\n### END SOLUTION", metadata={"nbgrader": {
            "grade": False, "grade_id": "ex1-answer", "locked": False, "schema_version": 3, "solution": True, "task": False}}),
        nbformat.v4.new_code_cell(INSIDE_CLIENT.strip(), metadata={"nbgrader": {
            "grade": True, "grade_id": "ex1-tests", "locked": True, "points": 1, "schema_version": 3, "solution": False, "task": False}}),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "01_x" / "01_x.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    progress = run_notebook(path)
    assert progress.next_exercise is not None
    # A failed check is reported in its own words (other errors keep their type: "NameError: ...").
    assert progress.next_exercise.message == "GET /health should answer 404, but it answered 200."
