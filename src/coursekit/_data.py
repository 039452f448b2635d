"""Find the course's data/ folder, whatever the working directory.

A notebook may run from notebooks/NN_x/, solutions/NN_x/, a learner's copy
elsewhere, or nbgrader's autograded/<student>/<assignment>/ in a temporary
course folder. None of those can rely on a relative path, so the toolkit looks
in a fixed order:

1. the folder named by the COURSE_DATA_DIR environment variable;
2. a data/ folder beside the coursekit package's repository (the editable
   install every set-up command makes);
3. a data/ folder in the working directory or any folder above it.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

MARKER = "COURSE_DATA"  # a file that marks the course's data folder


def _is_data_dir(path: Path) -> bool:
    return (path / MARKER).is_file()


@cache
def data_dir() -> Path:
    """The course's data/ folder as an absolute path."""
    candidates: list[Path] = []
    if env := os.environ.get("COURSE_DATA_DIR"):
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2] / "data")
    cwd = Path.cwd().resolve()
    candidates.extend(folder / "data" for folder in (cwd, *cwd.parents))
    for candidate in candidates:
        if _is_data_dir(candidate):
            return candidate.resolve()
    looked = "\n  ".join(str(c) for c in candidates[:4])
    raise FileNotFoundError(
        "Could not find the course's data/ folder. Looked in:\n  "
        f"{looked}\n  ...\nSet COURSE_DATA_DIR to the data/ folder of your course checkout."
    )


def data_path(name: str) -> Path:
    """The path of a file in data/, e.g. data_path("models.json")."""
    path = data_dir() / name
    if not path.exists():
        available = ", ".join(sorted(p.name for p in data_dir().iterdir() if p.name != MARKER))
        raise FileNotFoundError(f"data/{name} does not exist. Files in data/: {available}")
    return path


def load_json(name: str) -> Any:
    """Parse a JSON file from data/ (a fresh copy each call, so callers may mutate it)."""
    return json.loads(data_path(name).read_text(encoding="utf-8"))
