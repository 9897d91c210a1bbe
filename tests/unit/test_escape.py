"""Each escaping filter, checked with the format's own reader on every hostile password."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.deploy import escape
from colla.errors import BadInput
from tests.passwords import NASTY_PASSWORDS
from tests.readers import (
    mycnf_values,
    oslo_values,
    python_assignments,
    shell_value,
    shell_words,
    sql_literals,
    url_credentials,
)


@pytest.mark.parametrize("value", NASTY_PASSWORDS)
def test_ini_round_trips_through_oslo_config(tmp_path: Path, value: str) -> None:
    path = tmp_path / "a.conf"
    path.write_text(f"[DEFAULT]\nx = 1\n\n[auth]\npassword = {escape.ini(value)}\n", "utf-8")
    assert oslo_values(path)["auth"]["password"] == value


@pytest.mark.parametrize("value", NASTY_PASSWORDS)
def test_url_round_trips_through_urllib(value: str) -> None:
    text = f"mysql+pymysql://u{escape.url(value)}:{escape.url(value)}@db.example:3306/x?c=1"
    assert url_credentials(text) == ("u" + value, value, "db.example")


@pytest.mark.parametrize("value", NASTY_PASSWORDS)
def test_shell_round_trips_through_sh(value: str) -> None:
    assert shell_value(f"export V={escape.shell(value)}", "V") == value
    assert shell_words(f"a {escape.shell(value)} b") == ["a", value, "b"]


@pytest.mark.parametrize("value", NASTY_PASSWORDS)
def test_sql_string_round_trips_as_a_mariadb_literal(value: str) -> None:
    statement = f"ALTER USER 'u'@'%' IDENTIFIED BY {escape.sql_string(value)};"
    assert sql_literals(statement) == ["u", "%", value]


@pytest.mark.parametrize("value", NASTY_PASSWORDS)
def test_mycnf_round_trips_as_a_mariadb_option(value: str) -> None:
    text = f"[client]\nuser = root\npassword = {escape.mycnf(value)}\nport = 3306\n"
    assert mycnf_values(text)["client"] == {"user": "root", "password": value, "port": "3306"}


@pytest.mark.parametrize("value", [*NASTY_PASSWORDS, "emoji \U0001f600 outside the BMP"])
def test_python_round_trips_as_a_literal(value: str) -> None:
    assert python_assignments(f"SECRET_KEY = {escape.python(value)}\n") == {"SECRET_KEY": value}


@pytest.mark.parametrize("name", ["ini", "shell", "sql_string", "mycnf"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", "a\u2028b"])
def test_a_line_break_is_refused_not_written(name: str, value: str) -> None:
    with pytest.raises(BadInput, match="line break"):
        escape.FILTERS[name](value)


def test_plain_values_stay_readable() -> None:
    # Generated passwords (letters and digits) are written as they are.
    assert escape.ini("Ab12") == "Ab12" and escape.url("Ab12") == "Ab12"
    assert escape.ini("127.0.0.1:11211") == "127.0.0.1:11211"
