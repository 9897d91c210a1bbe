"""passwords.yml: loading with checks, generating missing passwords atomically and 0600."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

from colla.config.passwords import (
    PASSWORD_LENGTH,
    Passwords,
    generate_passwords,
    load_passwords,
    write_private_file,
)
from colla.errors import BadInput
from tests.passwords import NASTY_PASSWORDS, nasty_passwords

REQUIRED = ("database_password", "keystone_admin_password", "rabbitmq_password")

# An excerpt of a kolla-ansible passwords.yml after kolla-genpwd: extra keys,
# unset entries and nested ssh key pairs, which colla must keep.
KOLLA = """\
---
ceph_cluster_fsid:
database_password: Xb1sN3uYw8
keystone_admin_password: "0123"
rabbitmq_password: r4bb1t
nova_ssh_key:
  private_key: '-----BEGIN RSA PRIVATE KEY-----'
  public_key: ssh-rsa AAAA
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_load_kolla_file(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(KOLLA)
    passwords = load_passwords(path, REQUIRED)
    assert passwords["keystone_admin_password"] == "0123"
    assert dict(passwords.values) == {
        "database_password": "Xb1sN3uYw8",
        "keystone_admin_password": "0123",
        "rabbitmq_password": "r4bb1t",
    }
    assert "nova_ssh_key" not in passwords


def test_repr_hides_the_values() -> None:
    assert "s3cret" not in repr(Passwords({"a": "s3cret"}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "database_password: x\nrabbitmq_password: y\n",
            "missing password 'keystone_admin_password'",
        ),
        ("keystone_admin_password:\n", "missing password 'database_password'"),
        (
            "database_password: x\nrabbitmq_password: y\nkeystone_admin_password: ''\n",
            r"missing password 'keystone_admin_password' \(run `colla genpwd`\)",
        ),
        ("database_password: 0123\n", r"key 'database_password': expected a string \(got a number"),
        ("some_extra_password: 1.5\n", "key 'some_extra_password': expected a string"),
        ("some_extra_password: yes\n", "key 'some_extra_password': expected a string .*boolean"),
        ("database_password: [a]\n", r"key 'database_password': expected a string \(got a list\)"),
        (
            "database_password: {a: b}\nrabbitmq_password: y\nkeystone_admin_password: z\n",
            "key 'database_password': expected a string",
        ),
        ("1: x\n", "key 1: expected a string key"),
        ("database_password: [x\n", r"passwords\.yml:\d+: malformed YAML"),
    ],
)
def test_bad_passwords(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message) as info:
        load_passwords(path, REQUIRED)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_generate_creates_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    added = generate_passwords(path, reversed(REQUIRED))
    assert added == sorted(REQUIRED)
    assert _mode(path) == 0o600
    passwords = load_passwords(path, REQUIRED)
    values = [passwords[key] for key in REQUIRED]
    assert len(set(values)) == len(values)
    assert all(re.fullmatch(rf"[A-Za-z0-9]{{{PASSWORD_LENGTH}}}", v) for v in values)
    keys = [line.split(":")[0] for line in path.read_text().splitlines() if ":" in line]
    assert keys == sorted(keys)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_generate_keeps_existing_values_and_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(KOLLA.replace("rabbitmq_password: r4bb1t", "rabbitmq_password: ''"))
    path.chmod(0o644)
    assert generate_passwords(path, REQUIRED) == ["rabbitmq_password"]
    data = yaml.safe_load(path.read_text())
    assert data["database_password"] == "Xb1sN3uYw8"
    assert data["keystone_admin_password"] == "0123"
    assert data["nova_ssh_key"]["public_key"] == "ssh-rsa AAAA"
    assert data["ceph_cluster_fsid"] is None
    assert len(data["rabbitmq_password"]) == PASSWORD_LENGTH
    assert _mode(path) == 0o600


def test_generate_with_nothing_missing_only_fixes_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(KOLLA)
    path.chmod(0o644)
    assert generate_passwords(path, REQUIRED) == []
    assert path.read_text() == KOLLA
    assert _mode(path) == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "database_password: [x\n",
        "database_password: 12345\n",
        "database_password: {a: b}\n",
        "- a list\n",
    ],
)
def test_generate_leaves_a_bad_file_untouched(tmp_path: Path, text: str) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(text)
    path.chmod(0o640)
    with pytest.raises(BadInput, match=re.escape(str(path))):
        generate_passwords(path, iter(REQUIRED))
    assert path.read_text() == text
    assert _mode(path) == 0o640
    assert list(tmp_path.iterdir()) == [path]


def test_write_private_file_replaces_content_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o666)
    write_private_file(path, "new\n")
    assert path.read_text() == "new\n"
    assert _mode(path) == 0o600


def _yaml_with(value: str) -> str:
    # safe_dump writes controls as YAML escapes ("\n", "\u2028"), as an editor would not,
    # but the loader sees exactly ``value``.
    others = {"database_password": "x", "rabbitmq_password": "y"}
    return yaml.safe_dump({**others, "keystone_admin_password": value}, allow_unicode=False)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("a\nb", "U+000A"),
        ("a\r\nb", "U+000D"),
        ("a\tb", "U+0009"),
        ("a\x00b", "U+0000"),
        ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"),
        ("a\u2028b", "U+2028 (LINE SEPARATOR)"),
        ("a\u2029b", "U+2029"),
        ("a\u202eb", "U+202E"),  # a bidi override: shows the password reversed
        ("a\ufeffb", "U+FEFF"),
        ("a\x1bb", "U+001B"),
    ],
)
def test_control_characters_are_refused_naming_the_key(
    tmp_path: Path, value: str, code: str
) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(_yaml_with(value))
    for load in (
        lambda: load_passwords(path, REQUIRED),
        lambda: generate_passwords(path, REQUIRED),
    ):
        with pytest.raises(
            BadInput, match=re.escape(f"key 'keystone_admin_password': contains {code}")
        ) as info:
            load()
        message = str(info.value)
        assert message.startswith(str(path)) and value not in message
        assert "\n" not in message


@pytest.mark.parametrize("value", [" lead", "trail ", "trail\u00a0", "\u3000x"])
def test_leading_or_trailing_spaces_are_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(_yaml_with(value))
    with pytest.raises(BadInput, match="'keystone_admin_password': starts or ends with a space"):
        load_passwords(path, REQUIRED)


def test_every_nasty_printable_password_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    keys = [f"key_{i:02d}" for i in range(2 * len(NASTY_PASSWORDS))]
    wanted = nasty_passwords(keys)
    assert set(NASTY_PASSWORDS) <= set(wanted.values())
    assert len(set(wanted.values())) == len(wanted)
    path.write_text(yaml.safe_dump(wanted, allow_unicode=True))
    assert dict(load_passwords(path, keys).values) == wanted


def test_unused_keys_are_not_checked(tmp_path: Path) -> None:
    # kolla's passwords.yml holds keys colla never writes anywhere; their values are
    # theirs to choose.
    path = tmp_path / "passwords.yml"
    path.write_text(KOLLA + 'some_other_secret: "multi\\nline"\n')
    assert load_passwords(path, REQUIRED)["some_other_secret"] == "multi\nline"


def test_a_database_password_must_be_ascii(tmp_path: Path) -> None:
    # PyMySQL sends it as Latin-1 and MariaDB hashes the UTF-8: only ASCII agrees.
    path = tmp_path / "passwords.yml"
    keys = ["nova_database_password", "nova_keystone_password"]
    path.write_text(
        yaml.safe_dump(dict.fromkeys(keys, "pässwörd 中文"), allow_unicode=True), "utf-8"
    )
    with pytest.raises(BadInput, match="'nova_database_password': a database password must be"):
        load_passwords(path, keys, ["nova_database_password"])
    assert load_passwords(path, keys, []).values["nova_keystone_password"] == "pässwörd 中文"


def test_the_ascii_keys_get_ascii_values_and_the_others_every_value() -> None:
    keys = [f"key_{i:02d}" for i in range(2 * len(NASTY_PASSWORDS))]
    made = nasty_passwords(keys, keys[::2])
    assert all(made[k].isascii() for k in keys[::2])
    assert {v for v in NASTY_PASSWORDS if not v.isascii()} <= {made[k] for k in keys[1::2]}
    assert len(set(made.values())) == len(made)
