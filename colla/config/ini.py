"""Operator overrides of generated oslo.config INI files, merged section by key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from colla.errors import BadInput

_SECTION = re.compile(r"^\[(?P<name>[^\[\]]+)\]$")
# oslo.config option names never contain whitespace; an empty value is allowed.
_KEY_VALUE = re.compile(r"^(?P<key>[^=\s\[;#][^=\s]*)\s*=\s*(?P<value>.*)$")

# section → key → values; a key may repeat (oslo.config MultiStrOpt), so every
# value the override gives is kept, in its order. None: a key alone on its line, a flag
# (MySQL option files: ``skip-name-resolve``), only where the file takes them.
_Overrides = dict[str, dict[str, list[str | None]]]
_BARE_KEY = re.compile(r"^(?P<key>[A-Za-z0-9][A-Za-z0-9_.-]*)$")


@dataclass(frozen=True)
class Override:
    """An operator's override file, parsed: its sections and the line of each header."""

    sections: _Overrides
    lines: dict[str, int]

    def canonical(self) -> str:
        """Its content without comments, blank lines or spacing: a comment edit is no
        change, in the plan and in the spec."""
        return json.dumps(self.sections, sort_keys=True)


@dataclass
class _Block:
    """A run of base lines under one section header (or before any header)."""

    section: str | None
    lines: list[str] = field(default_factory=list)


def merge_ini(base: str, override: str, override_path: Path, bare_keys: bool = False) -> str:
    """Return ``base`` with the keys and sections of ``override`` merged over it.

    Override keys replace every line of the same key in the same section of the
    base (at the first one's place); new keys go after the last non-blank line of
    their section; new sections go at the end. The base's comments and blank
    lines stay; the override's comments are dropped. The result ends with one
    newline (an empty result is the empty string). With ``bare_keys`` (a MySQL option
    file) a key alone on its line is a flag, in the override and in the base.
    """
    parsed = parse_override(override, override_path, bare_keys)
    overrides = parsed.sections
    blocks = _split_base(base)
    _refuse_misspelt(parsed, {b.section for b in blocks if b.section}, override_path)
    emitted: set[tuple[str, str]] = set()
    out: list[str] = []
    last_block_of = {block.section: i for i, block in enumerate(blocks)}
    for i, block in enumerate(blocks):
        section = block.section
        if section is None:
            out.extend(block.lines)
            continue
        wanted = overrides.get(section, {})
        lines: list[str] = []
        for line in block.lines:
            match = _KEY_VALUE.match(line.strip()) or (
                _BARE_KEY.match(line.strip()) if bare_keys else None
            )
            if match is None or match["key"] not in wanted:
                lines.append(line)
            elif (section, match["key"]) not in emitted:
                emitted.add((section, match["key"]))
                lines.extend(_line(match["key"], value) for value in wanted[match["key"]])
        if last_block_of[section] == i:
            end = _after_last_content(lines)
            lines[end:end] = [
                _line(key, value)
                for key, values in wanted.items()
                if (section, key) not in emitted
                for value in values
            ]
        out.extend(lines)
    for section, keys in overrides.items():
        if section in last_block_of:
            continue
        while out and not out[-1].strip():
            out.pop()
        if out:
            out.append("")
        out.append(f"[{section}]")
        out.extend(_line(key, value) for key, values in keys.items() for value in values)
    text = "\n".join(out).rstrip()
    return f"{text}\n" if text else ""


def _form(section: str) -> str:
    return section.lower().replace("-", "_")


def _refuse_misspelt(parsed: Override, present: set[str], path: Path) -> None:
    """Refuse a section that is one of the file's own but for case or '-'/'_'.

    oslo.config reads ``[default]`` as a group other than ``[DEFAULT]`` and
    ``[keystone-authtoken]`` as one other than ``[keystone_authtoken]``, so such an
    override would change nothing, silently. A section the generated file lacks
    altogether is accepted: oslo.config has hundreds of groups and colla cannot list
    every one (nor can it tell a real new one from a typo), so it stays the operator's.
    """
    spelt = {_form(s): s for s in present}
    for section in parsed.sections:
        own = spelt.get(_form(section))
        if section not in present and own is not None:
            raise BadInput(
                f"{path}:{parsed.lines[section]}: section [{section}] differs from the "
                f"generated file's [{own}] only in case or '-'/'_'; write [{own}]"
            )


def parse_override(text: str, path: Path, bare_keys: bool = False) -> Override:
    """Parse an override file; a line that is not a header, a key or a comment is an
    error naming the file and the line. ``bare_keys``: a key alone is a flag."""
    overrides: _Overrides = {}
    lines: dict[str, int] = {}
    section: str | None = None
    for number, raw in enumerate(_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = _SECTION.match(line)
        if header is not None:
            section = header["name"].strip()
            if not section:
                raise BadInput(f"{path}:{number}: empty section name")
            overrides.setdefault(section, {})
            lines.setdefault(section, number)
            continue
        match = _KEY_VALUE.match(line)
        bare = _BARE_KEY.match(line) if bare_keys and match is None else None
        if match is None and bare is None:
            expected = "'key = value', 'key'" if bare_keys else "'key = value'"
            raise BadInput(
                f"{path}:{number}: expected '[section]', {expected} or a comment, got {line!r}"
            )
        match = match or bare
        assert match is not None
        if section is None:
            raise BadInput(
                f"{path}:{number}: key '{match['key']}' comes before any [section] header"
            )
        value = None if bare is not None else match["value"].strip()
        overrides[section].setdefault(match["key"], []).append(value)
    return Override(overrides, lines)


def _split_base(text: str) -> list[_Block]:
    # The base is colla's own rendering, so it is read leniently: any line that
    # is not a header stays in its block verbatim.
    blocks = [_Block(None)]
    for raw in _lines(text):
        header = _SECTION.match(raw.strip())
        if header is not None:
            blocks.append(_Block(header["name"].strip(), [raw.rstrip()]))
        else:
            blocks[-1].lines.append(raw.rstrip())
    return blocks


def _lines(text: str) -> list[str]:
    # Lines as oslo.config reads them (Python's file iteration: \n, \r\n or \r), not
    # str.splitlines, which also breaks at U+2028, NEL and form feeds: a value holding
    # one would become two lines here, and a second line may be a [section] header.
    return re.split(r"\r\n|\r|\n", text)


def _line(key: str, value: str | None) -> str:
    # No trailing blank after an empty value: "key =" reads the same to oslo.config.
    if value is None:
        return key
    return f"{key} = {value}" if value else f"{key} ="


def _after_last_content(lines: list[str]) -> int:
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            return i + 1
    return len(lines)
