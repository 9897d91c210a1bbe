"""Writing a generated tree all at once: into a temporary sibling, then renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from colla.errors import BadInput


@dataclass(frozen=True)
class OutFile:
    """One generated file: its bytes and mode."""

    content: bytes
    mode: int = 0o644


def check_output_dir(target: Path) -> None:
    """Bad input, before anything is written: a file in the way, or no write permission."""
    if target.exists() and not target.is_dir():
        raise BadInput(f"--output {target}: exists and is not a directory")
    parent = target.parent if not target.exists() else target
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--output {target}: {parent} is not writable")
    if target.exists() and not os.access(target.parent, os.W_OK | os.X_OK):
        raise BadInput(f"--output {target}: {target.parent} is not writable")


def write_tree(target: Path, files: Mapping[str, OutFile], dir_mode: int = 0o755) -> None:
    """Make ``target`` hold exactly ``files`` (relative paths), or leave it untouched.

    Everything is written into a temporary directory beside ``target``, which then
    replaces it: a failure or a crash never leaves a half-written tree.
    """
    check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        for relative, item in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.content)
            path.chmod(item.mode)
        for directory, _, _ in os.walk(staging):
            os.chmod(directory, dir_mode)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        staging.rename(target)
    except OSError as e:
        if old is not None and not target.exists():
            old.rename(target)
        raise BadInput(f"--output {target}: cannot write: {e.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
