"""How failed checks look in Jupyter: the check's message, as an ordinary error output.

IPython shows an exception as a traceback through IPython's and the toolkit's frames, and it
gives up on exceptions whose context chain holds an exception group (anyio's task groups, used
by the in-process client, wrap every error raised inside `async with app_client(...)`): it then
prints to stderr and sends no error reply at all, which nbgrader grades as stderr output and
which can leave the kernel without an answer. `install()` registers one handler for both:

- CheckFailed: the output is the message (what was sent, what came back, what was expected,
  the hint) and the line of the cell that failed; no frames;
- any other exception: IPython's usual traceback, with the group wrappers cut from its
  context chain so that IPython can format it.
"""

from __future__ import annotations

import traceback
from types import TracebackType
from typing import Any

from .checks import CheckFailed

RED, RESET = "\x1b[0;31m", "\x1b[0m"


def _failing_cell_line(tb: TracebackType | None) -> int | None:
    """The line number of the notebook cell's own frame where the check was called."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == "__main__":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_failed_lines(error: CheckFailed, tb: TracebackType | None) -> list[str]:
    """The error output of a failed check: its message, then where in the cell it failed."""
    lines = [f"{RED}CheckFailed{RESET}: {error}"]
    line = _failing_cell_line(tb)
    if line is not None:
        lines.append(f"(the check at line {line} of this cell failed)")
    return lines


def _cut_group_context(error: BaseException) -> None:
    """Drop exception groups from the context chain (they only wrapped this very error)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error.__context__, BaseExceptionGroup):
            error.__context__ = error.__context__.__context__
            continue
        error = error.__context__


def _show_error(shell: Any, etype: type, value: BaseException, tb: TracebackType | None, tb_offset: int | None = None) -> list[str]:
    if issubclass(etype, SyntaxError):
        shell.showsyntaxerror()
        return []
    if isinstance(value, CheckFailed):
        stb = check_failed_lines(value, tb)
    elif isinstance(value, BaseExceptionGroup):
        stb = [line.rstrip("\n") for line in traceback.format_exception(value)]
    else:
        _cut_group_context(value)
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)
    return stb


def install() -> None:
    """Register the handler in the running IPython kernel (nothing happens outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always installed with the course
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.set_custom_exc((Exception,), _show_error)
