"""The corpus of bad inputs: small edits of a working config directory, each of which
colla must refuse with one line, a non-zero exit and nothing changed.

The cases live in ``tests/data/bad_inputs.yaml``, a list of mappings:

``name``
    unique, used as the test id.
``edits``
    a list of edits applied in order to a fresh config directory (``colla init`` plus a
    fixed passwords.yml, see ``make_config_dir``). A case with one edit may give its keys
    at the top level instead. Each edit is one of:

    - ``file`` (relative to the config directory) with one of ``content`` (the whole
      file, text), ``bytes_b64`` (the whole file, base64: non-UTF-8 bytes),
      ``append`` (text added at the end; with ``times: N``, repeated N times),
      ``append_b64`` (bytes added at the end), ``replace: {old, new}`` (``old`` must
      occur in the file; every occurrence is replaced);
    - ``remove``: a file to delete;
    - ``mkdir``: a directory to make (with parents);
    - ``symlink: {path, target}``: a symbolic link at ``path`` pointing at ``target``
      (kept as written: relative targets are relative to the link's directory).
``args``
    the command and its options, without ``-c``; default ``["plan"]``. The runner adds
    ``-c <config dir>`` at the end.
``error``
    a regular expression that the single line on stderr must match (``re.search``).
``status``
    optional: the exact exit status (default: any non-zero status).
``tier``
    optional: ``unit`` (default: runs in tests/unit, where colla must refuse the input
    before it contacts an engine) or ``engine`` (only meaningful against a real engine).
``why``
    optional: a sentence for the reader.

The unit runner (tests/unit/test_bad_inputs.py) makes every engine connection fail, so
a unit case that gets as far as the engine fails loudly. The same cases can be run by
the e2e tier against a real engine, comparing the engine's containers and volumes
before and after as well as the directory.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from colla.catalog import load_services
from colla.config.example import write_example

CORPUS = Path(__file__).parent / "data" / "bad_inputs.yaml"
_EDIT_KEYS = ("file", "remove", "mkdir", "symlink")
_CASE_KEYS = {"name", "edits", "args", "error", "status", "tier", "why"}
_FILE_ACTIONS = ("content", "bytes_b64", "append", "append_b64", "replace")


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, the command to run, and the error expected."""

    name: str
    edits: tuple[dict[str, Any], ...]
    error: str
    args: tuple[str, ...] = ("plan",)
    status: int | None = None
    tier: str = "unit"
    why: str = ""

    def argv(self, config_dir: Path) -> list[str]:
        """The command line to run for this case against ``config_dir``."""
        return [*self.args, "-c", str(config_dir)]


@dataclass(frozen=True)
class Entry:
    """What a snapshot keeps of one path: its kind, mode and content or link target."""

    kind: str
    mode: int
    content: bytes = field(repr=False)


def load_cases(path: Path = CORPUS) -> list[Case]:
    """Every case of the corpus, checked for the keys this module knows."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of cases")
    cases: list[Case] = []
    for item in raw:
        unknown = set(item) - _CASE_KEYS - set(_EDIT_KEYS) - set(_FILE_ACTIONS) - {"times"}
        if unknown:
            raise ValueError(f"{path}: case {item.get('name')!r}: unknown keys {sorted(unknown)}")
        edits = item.get("edits")
        if edits is None:
            edit = {k: v for k, v in item.items() if k not in _CASE_KEYS}
            edits = [edit] if edit else []
        cases.append(
            Case(
                name=item["name"],
                edits=tuple(edits),
                error=item["error"],
                args=tuple(item.get("args", ("plan",))),
                status=item.get("status"),
                tier=item.get("tier", "unit"),
                why=item.get("why", ""),
            )
        )
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate case names {duplicates}")
    return cases


def make_config_dir(config_dir: Path) -> None:
    """A working all-in-one config directory: ``colla init`` and fixed passwords."""
    catalog = load_services()
    write_example(config_dir, catalog.defaults())
    names = sorted(catalog.required_passwords(set(catalog.services)))
    passwords = {name: f"fixed{index:03d}password" for index, name in enumerate(names)}
    path = config_dir / "passwords.yml"
    path.write_text(yaml.safe_dump(passwords), encoding="utf-8")
    path.chmod(0o600)


def apply_case(case: Case, config_dir: Path) -> None:
    """Apply the case's edits to ``config_dir``."""
    for edit in case.edits:
        _apply(edit, config_dir)


def _apply(edit: dict[str, Any], root: Path) -> None:
    if "remove" in edit:
        (root / edit["remove"]).unlink()
        return
    if "mkdir" in edit:
        (root / edit["mkdir"]).mkdir(parents=True, exist_ok=True)
        return
    if "symlink" in edit:
        link = root / edit["symlink"]["path"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(edit["symlink"]["target"])
        return
    path = root / edit["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if "content" in edit:
        path.write_bytes(edit["content"].encode())
    elif "bytes_b64" in edit:
        path.write_bytes(base64.b64decode(edit["bytes_b64"]))
    elif "append" in edit:
        _append(path, edit["append"].encode() * int(edit.get("times", 1)))
    elif "append_b64" in edit:
        _append(path, base64.b64decode(edit["append_b64"]))
    elif "replace" in edit:
        old, new = edit["replace"]["old"], edit["replace"]["new"]
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise ValueError(f"{path}: {old!r} does not occur, the case is stale")
        path.write_text(text.replace(old, new), encoding="utf-8")
    else:
        raise ValueError(f"edit {edit!r}: expected one of {', '.join(_FILE_ACTIONS)}")


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root`` (symlinks not followed): kind, mode, bytes or target."""
    found: dict[str, Entry] = {}
    for directory, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            path = Path(directory) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                found[key] = Entry("link", mode, os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[key] = Entry("dir", mode, b"")
            else:
                found[key] = Entry("file", mode, path.read_bytes())
    return found
