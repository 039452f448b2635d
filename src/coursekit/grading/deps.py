"""The pinned dependency set: requirements.lock is the truth; environment.yml follows it.

    python -m coursekit.grading.deps write-lock .lockvenv/bin/python   (what `make lock` runs)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from .course import REPO

LOCK = REPO / "requirements.lock"
ENVIRONMENT = REPO / "environment.yml"
PYPROJECT = REPO / "pyproject.toml"

LOCK_HEADER = (
    "# The whole dependency tree, pinned exactly. Both pip (make) and environment.yml install this set.\n"
    "# Regenerate with 'make lock' after changing the direct dependencies in pyproject.toml.\n"
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str]) -> dict[str, str]:
    """name -> version for every 'name==version' line (comments and blanks skipped)."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\],]+?)(\[[^\]]*\])?==([^\s;]+)", line)
        if not match:
            raise ValueError(f"not an exact pin: {line!r}")
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def lock_pins() -> dict[str, str]:
    return parse_pins(LOCK.read_text().splitlines())


def direct_pins() -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text())
    return parse_pins(data["project"]["dependencies"])


def environment_pins(text: str) -> dict[str, str]:
    """The pins in environment.yml's pip section."""
    lines = [l.strip()[2:] for l in text.splitlines() if l.startswith("      - ")]
    return parse_pins([l for l in lines if not l.startswith("-e")])


def render_environment(pins: dict[str, str]) -> str:
    body = "\n".join(f"      - {name}=={version}" for name, version in sorted(pins.items()))
    return (
        "# Conda / Binder environment. Generated from requirements.lock by `make lock`; do not edit by hand.\n"
        "name: fastapi-ai-course\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        f"{body}\n      - -e .\n"
    )


def write_lock(python: str) -> None:
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True).stdout
    lines = [l for l in frozen.splitlines() if l and not l.startswith(("-e", "coursekit"))]
    pins = parse_pins(lines)
    LOCK.write_text(LOCK_HEADER + "".join(f"{l}\n" for l in lines))
    ENVIRONMENT.write_text(render_environment(pins))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "write-lock":
        sys.exit("usage: python -m coursekit.grading.deps write-lock PYTHON")
    write_lock(sys.argv[2])
