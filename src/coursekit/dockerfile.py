"""Read a Dockerfile as text, so that tests can check it without Docker (notebook 11).

    for step in parse_dockerfile(text):
        print(step.line, step.keyword, step.args)
    exec_form(steps[-1])    # ["uvicorn", "main:app"] for CMD ["uvicorn", "main:app"], None for CMD uvicorn main:app

A deliberately small reader: one Instruction per instruction, comments and blank
lines dropped, continuation lines (ending in a backslash) joined. It does not
expand variables, parse heredocs or follow parser directives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .checks import fail


@dataclass
class Instruction:
    """One Dockerfile instruction: its keyword in capitals (FROM, RUN, COPY, ...), the rest of it, its first line."""

    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order.

    Comments and blank lines are dropped, lines ending in a backslash are joined to the next, and
    each Instruction's line is the number of its first line. Raises CheckFailed if the text ends in
    the middle of an instruction (its last line ends with a backslash).
    """
    instructions: list[Instruction] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            first = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), rest.strip(), first))
        pending = ""
    if pending:
        fail(f"The Dockerfile ends in the middle of an instruction (line {first} ends with a backslash).")
    return instructions


def exec_form(instruction: Instruction) -> list[str] | None:
    """The argument list of an exec-form instruction (CMD ["a", "b"] gives ["a", "b"]).

    None for the shell form (CMD a b), and for a JSON array that is invalid or holds anything but
    strings: Docker, too, runs those through a shell.
    """
    text = instruction.args.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(part, str) for part in value) else None
