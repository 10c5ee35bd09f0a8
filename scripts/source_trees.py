"""Other versions of the code beside the working tree, for scripts that run two versions side by side.

A revision is extracted with `git archive` into a folder of its own (nothing to register or clean up in the
repository) and run with this interpreter and PYTHONPATH pointing at that folder, so both versions use the same
installed libraries.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKING_TREE = "."


@dataclass(frozen=True)
class Source:
    label: str  # "196f8c6" or "working tree"
    root: Path


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def checkout(revision: str, into: Path) -> Source:
    """The revision's files (no .git) in `into`; the working tree itself for WORKING_TREE."""
    if revision == WORKING_TREE:
        return Source(label="working tree", root=REPO)
    commit = git("rev-parse", "--short", f"{revision}^{{commit}}")
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return Source(label=commit, root=into)


def child_env(source: Source) -> dict[str, str]:
    # No QT_* settings from the caller's shell: every version runs with the embedded defaults.
    env = {key: value for key, value in os.environ.items() if not key.startswith("QT_")}
    env["PYTHONPATH"] = str(source.root)
    env["COLUMNS"] = "120"
    return env


def check_imports_from(source: Source, cwd: Path) -> None:
    """The installed (editable) package must not shadow the tree under test."""
    probe = "import actors, service; print(service.__file__); print(actors.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=child_env(source), capture_output=True, text=True, check=False
    )
    files = [Path(line) for line in result.stdout.split()]
    if result.returncode != 0 or len(files) != 2 or not all(f.is_relative_to(source.root) for f in files):
        raise SystemExit(f"{source.label}: the code is not imported from {source.root}: {result.stdout}{result.stderr}")
