"""Writing a generated tree all at once: into a temporary sibling, then renamed into place.

The tree replaces only a directory colla made (see ``colla.outdir``): a new or empty one,
or one whose marker lists every file in it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from colla.errors import BadInput
from colla.outdir import MARKER, Made, claim, foreign_files, marker_bytes, remove_written


@dataclass(frozen=True)
class OutFile:
    """One generated file: its bytes and mode."""

    content: bytes
    mode: int = 0o644


def check_output_dir(target: Path) -> Made | None:
    """Bad input, before anything is written; the marker of the tree to replace, if any.

    Refused: a file in the way, no write permission, a directory colla did not make, or
    one holding files colla did not write (they would be lost with the old tree).
    """
    previous = claim(target, f"--output {target}")
    if previous is not None:
        foreign = foreign_files(target, frozenset(previous.files))
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise BadInput(
                f"--output {target}: holds {foreign[0]}{more}, which colla did not write; "
                "move it away or choose another directory"
            )
    parent = target.parent if not target.exists() else target
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--output {target}: {parent} is not writable")
    if target.exists() and not os.access(target.parent, os.W_OK | os.X_OK):
        raise BadInput(f"--output {target}: {target.parent} is not writable")
    return previous


def _check_inside(target: Path, relative: str) -> None:
    # Paths are made from node and container names; the inventory checks node names,
    # and this makes sure no name ever writes outside the output directory.
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or any(p in ("..", ".") for p in parts):
        raise BadInput(f"--output {target}: {relative!r} would be written outside it")


def write_tree(
    target: Path, files: Mapping[str, OutFile], made_by: str, dir_mode: int = 0o755
) -> None:
    """Make ``target`` hold exactly ``files`` (relative paths) and colla's marker, or leave
    it untouched.

    Everything is written into a temporary directory beside ``target``, which then
    replaces it: a failure or a crash never leaves a half-written tree. Of the old tree,
    only the files its marker lists are removed.
    """
    # "." has no name to rename: work on the absolute path.
    target = Path(os.path.abspath(target))
    previous = check_output_dir(target)
    if MARKER in files:
        raise BadInput(f"--output {target}: {MARKER} is colla's marker, not an output file")
    for relative in files:
        _check_inside(target, relative)
    files = {**files, MARKER: OutFile(marker_bytes(Made(made_by, tuple(files))))}
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
            remove_written(old, previous.files if previous else ())
