"""Escaping a value for the format of the file it is written into, one function per
format, each a Jinja filter of the same name. Passwords reach every one of these, and
passwords.yml accepts any printable character (colla.config.passwords), so each
function takes any string without line breaks and returns what that format's own
parser reads back as exactly that string."""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Callable

from colla.errors import BadInput

_QUOTES = ("'", '"')


def _one_line(value: str, where: str) -> str:
    # passwords.yml refuses these already; a value from elsewhere that holds one would
    # add lines to the file, so it is an error rather than something to escape.
    if any(c in value for c in "\n\r\x00") or len(value.splitlines()) > 1:
        raise BadInput(f"a value with a line break or NUL cannot be written into {where}")
    return value


def ini(value: str) -> str:
    """An oslo.config INI value.

    oslo.config interpolates ``$name`` and ``${name}``, and ``$$`` is a literal ``$``.
    Its parser strips surrounding whitespace and one pair of matching quotes at both
    ends (a lone quote counts as such a pair and reads as empty), and nothing inside
    the value is special: wrapping it in double quotes keeps those ends as they are.
    """
    text = _one_line(str(value), "an INI file").replace("$", "$$")
    if text != text.strip() or (text and text[0] in _QUOTES and text[-1] == text[0]):
        return f'"{text}"'
    return text


def url(value: str) -> str:
    """A user name or password inside a URL (``scheme://user:password@host``):
    everything but unreserved characters is percent-encoded, ``/``, ``:``, ``@`` and
    ``%`` included, so the URL parses the same and decodes back to the value."""
    return urllib.parse.quote(str(value), safe="")


def shell(value: str) -> str:
    """One word for a POSIX shell (sh, bash; sourced files such as openrc and
    rabbitmq-env.conf), quoted so that nothing in it is expanded."""
    return shlex.quote(_one_line(str(value), "a shell command"))


def sql_string(value: str) -> str:
    """A MariaDB string literal, quotes included (default sql_mode, where a backslash
    escapes: it is doubled, and a quote is preceded by one)."""
    text = _one_line(str(value), "an SQL statement")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_name(value: str) -> str:
    """A MariaDB identifier (a database or table name), backquotes included: a
    backquote inside is doubled."""
    text = _one_line(str(value), "an SQL statement")
    return "`" + text.replace("`", "``") + "`"


def mycnf(value: str) -> str:
    """An option value in a MariaDB option file (my.cnf, ``--defaults-extra-file``).

    Unquoted, a ``#`` starts a comment, surrounding spaces are stripped and backslash
    sequences are read as escapes. In double quotes a ``#`` is text, and of the escapes
    only a doubled backslash and ``\\"`` are needed: every backslash is doubled and
    every double quote is escaped.
    """
    text = _one_line(str(value), "a MariaDB option file")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def python(value: str) -> str:
    """A Python string literal (Django's settings). ``repr`` always gives one that
    evaluates to the value, characters outside the BMP included (which JSON would
    write as surrogate pairs, two characters to Python)."""
    return repr(str(value))


FILTERS: dict[str, Callable[[str], str]] = {
    "ini": ini,
    "url": url,
    "shell": shell,
    "sql_string": sql_string,
    "sql_name": sql_name,
    "mycnf": mycnf,
    "python": python,
}
