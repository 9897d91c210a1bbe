"""How the programs colla writes files for read a value back, for the escaping tests.

oslo.config, urllib, the POSIX shell and Python's own parser are the real readers.
MariaDB's option-file and string-literal rules have no Python implementation here, so
they are written down from MariaDB's documentation and mysys/my_default.c: a reader
with these rules, not a copy of MariaDB's code.
"""

from __future__ import annotations

import ast
import subprocess
import urllib.parse
from pathlib import Path

from oslo_config import cfg


def oslo_values(path: Path) -> dict[str, dict[str, str]]:
    """Every option of an oslo.config INI file as a service reads it: section → key →
    value, ``$`` interpolation done (an unknown ``$name`` raises)."""
    sections: dict[str, dict[str, list[str]]] = {}
    cfg.ConfigParser(str(path), sections).parse()
    conf = cfg.ConfigOpts()
    for section, options in sections.items():
        group = None if section == "DEFAULT" else section
        for key in options:
            conf.register_opt(cfg.StrOpt(key), group=group)
    conf(args=[], default_config_files=[str(path)], use_env=False)
    return {
        section: {key: str(_get(conf, section, key)) for key in options}
        for section, options in sections.items()
    }


def _get(conf: cfg.ConfigOpts, section: str, key: str) -> object:
    dest = key.replace("-", "_")
    return conf[dest] if section == "DEFAULT" else conf[section][dest]


def url_credentials(text: str) -> tuple[str, str, str]:
    """The user, password and host of ``scheme://user:password@host...``, decoded."""
    parts = urllib.parse.urlsplit(text)
    assert parts.username is not None and parts.password is not None, text
    return (
        urllib.parse.unquote(parts.username),
        urllib.parse.unquote(parts.password),
        str(parts.hostname),
    )


def _sh(script: str) -> str:
    done = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout


def shell_value(script: str, variable: str) -> str:
    """The value of ``variable`` after a POSIX shell runs ``script`` (sourcing it)."""
    return _sh(f'{script}\nprintf %s "${variable}"')


def shell_words(line: str) -> list[str]:
    """The words a POSIX shell splits ``line`` into (after quote removal)."""
    return _sh(f"for w in {line}; do printf '%s\\0' \"$w\"; done").split("\0")[:-1]


def python_assignments(text: str) -> dict[str, object]:
    """The literal values assigned at the top level of a Python module."""
    found: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


_MYCNF_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "s": " ", '"': '"', "'": "'"}


def mycnf_values(text: str) -> dict[str, dict[str, str]]:
    """A MariaDB option file: ``#`` outside quotes ends the line, the value is trimmed,
    one pair of matching quotes at its ends is removed, then backslash escapes are
    read (``\\n \\t \\r \\b \\s \\" \\' \\\\``; any other keeps its backslash)."""
    sections: dict[str, dict[str, str]] = {}
    section = ""
    for raw in text.split("\n"):
        line = _mycnf_strip_comment(raw).strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            section = line[1 : line.index("]")]
            sections[section] = {}
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        out, i = [], 0
        while i < len(value):
            if value[i] == "\\" and i + 1 < len(value):
                nxt = value[i + 1]
                out.append("\\" if nxt == "\\" else _MYCNF_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
            else:
                out.append(value[i])
                i += 1
        sections[section][key.strip()] = "".join(out)
    return sections


def _mycnf_strip_comment(line: str) -> str:
    quote, escape = "", False
    for i, char in enumerate(line):
        if char in "'\"" and not escape:
            quote = char if not quote else ("" if quote == char else quote)
        if not quote and char == "#":
            return line[:i]
        escape = bool(quote) and char == "\\" and not escape
    return line


def sql_literals(statement: str) -> list[str]:
    """The single-quoted string literals of a MariaDB statement, decoded (default
    sql_mode: a backslash escapes the next character, ``''`` is one quote)."""
    escapes = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "Z": "\x1a"}
    found: list[str] = []
    i = 0
    while i < len(statement):
        if statement[i] == "`":  # an identifier: skip it whole
            i = statement.index("`", i + 1) + 1
            continue
        if statement[i] != "'":
            i += 1
            continue
        i += 1
        out: list[str] = []
        while True:
            char = statement[i]
            if char == "\\":
                nxt = statement[i + 1]
                # \% and \_ keep their backslash (they are LIKE patterns).
                out.append("\\" + nxt if nxt in "%_" else escapes.get(nxt, nxt))
                i += 2
            elif char == "'" and statement[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
            elif char == "'":
                i += 1
                break
            else:
                out.append(char)
                i += 1
        found.append("".join(out))
    return found
