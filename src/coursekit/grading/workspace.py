"""The learner's workspace: a git-ignored copy of the release, so that `git pull` never conflicts.

`make lab` copies every released notebook folder from notebooks/ into work/ the
first time it appears, and never overwrites a copy the learner has started.
When the course updates a notebook the learner already copied, the copy is kept
and a message says how to take the new version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .course import Course

WORKSPACE = "work"
RECORD = ".release-digests.json"  # digest of each release folder as it was when copied


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def workspace_dir(course: Course) -> Path:
    return course.root / WORKSPACE


def sync_workspace(course: Course) -> list[str]:
    """Copy new release folders into the workspace; report updates that were not applied."""
    work = workspace_dir(course)
    work.mkdir(exist_ok=True)
    record_path = work / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    messages = []
    for release in sorted(p for p in course.release.iterdir() if p.is_dir()):
        name, target = release.name, work / release.name
        digest = _digest(release)
        if not target.exists():
            shutil.copytree(release, target)
            record[name] = digest
            messages.append(f"copied notebooks/{name} to {WORKSPACE}/{name}")
        elif record.get(name) != digest:
            messages.append(
                f"notebooks/{name} has changed since you copied it; your work in {WORKSPACE}/{name} is kept. "
                f"To take the new version, rename {WORKSPACE}/{name} and run `make lab` again."
            )
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return messages
