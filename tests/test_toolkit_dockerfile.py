"""Unit tests of coursekit.dockerfile: reading a Dockerfile as text."""

from __future__ import annotations

import pytest

from coursekit import CheckFailed, Instruction, exec_form, parse_dockerfile

GOOD = """
# syntax and comments are dropped
FROM python:3.12-slim

workdir /app
RUN pip install --no-cache-dir \\
        -r requirements.txt
CMD ["uvicorn", "app.main:app"]
"""


def test_parse_dockerfile_gives_one_instruction_per_instruction_with_its_first_line():
    assert parse_dockerfile(GOOD) == [
        Instruction("FROM", "python:3.12-slim", 3),
        Instruction("WORKDIR", "/app", 5),
        Instruction("RUN", "pip install --no-cache-dir  -r requirements.txt", 6),
        Instruction("CMD", '["uvicorn", "app.main:app"]', 8),
    ]


def test_parse_dockerfile_keywords_are_capitals_whatever_was_written():
    assert [step.keyword for step in parse_dockerfile("from python:3.12-slim\nUser app\n")] == ["FROM", "USER"]


def test_parse_dockerfile_of_nothing_is_no_instructions():
    assert parse_dockerfile("\n# only a comment\n\n") == []


def test_parse_dockerfile_fails_when_the_text_ends_inside_an_instruction():
    with pytest.raises(CheckFailed, match=r"ends in the middle of an instruction \(line 2 ends with a backslash\)"):
        parse_dockerfile("FROM python:3.12-slim\nRUN pip install \\\n")


def test_exec_form_reads_a_json_array_of_strings():
    step = Instruction("CMD", '["uvicorn", "main:app", "--port", "8000"]', 1)
    assert exec_form(step) == ["uvicorn", "main:app", "--port", "8000"]


@pytest.mark.parametrize("args", [
    "uvicorn main:app",              # the shell form
    '["uvicorn", "main:app"',        # invalid JSON: Docker runs it through a shell too
    '["uvicorn", "--port", 8000]',   # not all strings
    '{"cmd": "uvicorn"}',            # not a list
])
def test_exec_form_is_none_for_anything_docker_would_run_through_a_shell(args):
    assert exec_form(Instruction("CMD", args, 1)) is None
