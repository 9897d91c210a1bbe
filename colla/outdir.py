"""A directory colla made: marked by a file of its own, so colla replaces only what it wrote.

An operator's ``-o .`` or ``--state-dir ~`` must never cost them a file. colla takes a
directory only when it is new, empty or already carries colla's marker; the marker lists
the files colla wrote there, and those are the only files colla ever removes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from colla.errors import BadInput

MARKER = ".colla-output"


@dataclass(frozen=True)
class Made:
    """What the marker says: which command made the directory and the files it wrote."""

    made_by: str
    files: tuple[str, ...] = ()


def marker_bytes(made: Made) -> bytes:
    """The marker file's content."""
    data = {"made_by": made.made_by, "files": sorted(made.files)}
    return (json.dumps(data, indent=1) + "\n").encode()


def read_marker(directory: Path) -> Made | None:
    """The marker of ``directory``, or None when there is none (or it is not colla's)."""
    path = directory / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("made_by"), str):
        return None
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    # A listed path that leaves the directory is not one colla wrote: never remove it.
    safe = tuple(f for f in files if _inside(f))
    return Made(data["made_by"], safe)


def claim(directory: Path, label: str) -> Made | None:
    """Refuse ``directory`` unless it is new, empty or colla's; its marker, if any.

    ``label`` names the option in the one-line error (``--output DIR``).
    """
    if not directory.exists():
        return None
    if not directory.is_dir():
        raise BadInput(f"{label}: exists and is not a directory")
    made = read_marker(directory)
    if made is None and any(directory.iterdir()):
        raise BadInput(
            f"{label}: not empty and not made by colla; choose an empty or new directory"
        )
    return made


def write_marker(directory: Path, made: Made) -> None:
    """Mark ``directory`` as colla's (written atomically: a torn marker would orphan it)."""
    tmp = directory / f"{MARKER}.{os.getpid()}"
    tmp.write_bytes(marker_bytes(made))
    tmp.replace(directory / MARKER)


def foreign_files(directory: Path, known: frozenset[str]) -> list[str]:
    """Files and directories under ``directory`` that are not ``known`` or their parents."""
    known = known | {MARKER}
    parents = {str(p) for f in known for p in Path(f).parents}
    found = []
    for root, dirs, names in os.walk(directory):
        base = Path(root).relative_to(directory)
        found += [str(base / d) for d in dirs if str(base / d) not in parents]
        found += [str(base / n) for n in names if str(base / n) not in known]
    return sorted(found)


def remove_written(directory: Path, files: tuple[str, ...]) -> None:
    """Remove ``files`` (relative) and the directories they leave empty.

    Only named files go. The marker and ``directory`` go last, and only when nothing else
    is left: a directory that still holds a foreign file stays colla's, so a later run may
    reuse it.
    """
    for relative in files:
        if _inside(relative):
            (directory / relative).unlink(missing_ok=True)
    parents = {p for f in files for p in (directory / f).parents if directory in p.parents}
    for path in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir()
        except OSError:
            continue
    if [p.name for p in directory.iterdir()] in ([], [MARKER]):
        (directory / MARKER).unlink(missing_ok=True)
        directory.rmdir()


def _inside(relative: str) -> bool:
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts
