"""Hostile but valid passwords: every character class that some file format colla
writes treats specially. colla must accept each of them and get it intact into every
INI, SQL, shell, URL, YAML, JSON and Python file (the unit tests render every template
with them; the e2e tier deploys a cloud with them)."""

from __future__ import annotations

from collections.abc import Iterable

NASTY_PASSWORDS: tuple[str, ...] = (
    # Shell: quotes of every kind, command substitution, expansion, operators.
    'it\'s a "quoted" `back tick` $(id) pass',
    "a&b|c<d>e(f)g;h!i*j?k~l",
    # oslo.config interpolates $name and ${name}; $$ is its escape for one $.
    "$HOME $$ ${x} $ $keystone_admin_password",
    "${database_password}$",
    # printf/Python % formats, and percent-encoding that must not be decoded twice.
    "50% %s %(x)s %% %25 %2F",
    # INI/my.cnf comments, a section header look-alike, key = value look-alike.
    "#not-a-comment ;nor-this [DEFAULT] x = y",
    # Backslashes, MariaDB's escapes, and a trailing one that escapes nothing.
    "back\\slash \\n \\' \\\" \\\\ end\\",
    # Quotes at both ends, which INI and my.cnf parsers strip as quoting.
    "'single at both ends'",
    '"double at both ends"',
    '"',
    # URL delimiters (user:password@host/path?query#fragment).
    "u:p@h/p?q=1&r#f[]",
    # Letters beyond ASCII, and a non-breaking space inside (printable, not a control).
    "pässwörd ßé 中文 пароль\u00a0ok",
    # YAML and JSON specials.
    "- [a, b]: {c: d} *alias &anchor !tag | > end",
    # What kolla's generator and `colla genpwd` make.
    "Xb1sN3uYw8kT0pQ2rV5zL7mC9dF4hJ6g",
)


def nasty_passwords(required_keys: Iterable[str], ascii_keys: Iterable[str] = ()) -> dict[str, str]:
    """A value from NASTY_PASSWORDS for each key, distinct across keys; the keys of
    ``ascii_keys`` (database passwords, which colla requires to be ASCII) get only the
    ASCII ones, and the other keys every value, the non-ASCII ones first.

    Keys are taken in sorted order, each group going through its values in turn; a
    value already given is given again with a number inserted after its first
    character, which keeps the first and last characters (what quoting rules look at).
    """
    only_ascii = set(ascii_keys)
    pools = {
        True: [v for v in NASTY_PASSWORDS if v.isascii()],
        # Non-ASCII first, so that a catalog with few such keys still gets them, then
        # the ASCII ones from the other end, so that the two groups share no value.
        False: [
            *(v for v in NASTY_PASSWORDS if not v.isascii()),
            *reversed([v for v in NASTY_PASSWORDS if v.isascii()]),
        ],
    }
    turns = {True: 0, False: 0}
    made: dict[str, str] = {}
    for key in sorted(set(required_keys)):
        pool = pools[key in only_ascii]
        value = pool[turns[key in only_ascii] % len(pool)]
        turns[key in only_ascii] += 1
        number = 1
        while value in made.values():
            value = f"{value[:1]}{number}{value[1:]}"
            number += 1
        made[key] = value
    return made
