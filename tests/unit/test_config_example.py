"""`colla init`'s example configuration: it loads, it is private, it never clobbers."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from colla.config.example import globals_example, write_example
from colla.config.globals import load_globals
from colla.config.inventory import all_in_one, load_inventory
from colla.config.passwords import generate_passwords, load_passwords
from colla.errors import BadInput

SERVICES = {"mariadb": True, "keystone": True, "glance": True, "placement": False}
NAMES = ("globals.yml", "inventory", "passwords.yml")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_example_loads(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "colla"
    written = write_example(config, SERVICES)
    assert written == [config / name for name in NAMES]
    assert _mode(config) == 0o750
    assert _mode(config / "passwords.yml") == 0o600

    g = load_globals(config / "globals.yml", SERVICES)
    assert g.network_interface == "lo"
    assert g.kolla_internal_vip_address == "127.0.0.1"
    assert g.openstack_release == "zed"
    assert g.docker_namespace == "colla"
    assert g.enabled == SERVICES
    assert load_inventory(config / "inventory") == all_in_one()
    assert load_passwords(config / "passwords.yml", []).values == {}
    assert "colla genpwd" in (config / "passwords.yml").read_text()


def test_example_lists_every_service_with_its_default() -> None:
    text = globals_example(SERVICES)
    assert "#enable_glance: true\n" in text
    assert "#enable_placement: false\n" in text


def test_every_commented_default_loads_when_uncommented(tmp_path: Path) -> None:
    # The commented keys document defaults; uncommenting one must not break the file.
    text = re.sub(r"(?m)^#([a-z_]+:)", r"\1", globals_example(SERVICES))
    path = tmp_path / "globals.yml"
    path.write_text(text)
    g = load_globals(path, SERVICES)
    assert g.enabled == SERVICES
    assert g.colla_health_timeout == 300


def test_genpwd_fills_the_example_passwords(tmp_path: Path) -> None:
    write_example(tmp_path, SERVICES)
    assert generate_passwords(tmp_path / "passwords.yml", ["a_password"]) == ["a_password"]
    assert _mode(tmp_path / "passwords.yml") == 0o600


@pytest.mark.parametrize("existing", NAMES)
def test_existing_file_stops_everything(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("mine\n")
    with pytest.raises(BadInput, match=re.escape(f"{tmp_path / existing}: already exists")) as e:
        write_example(tmp_path, SERVICES)
    assert "--force" in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == [existing]
    assert (tmp_path / existing).read_text() == "mine\n"


def test_force_overwrites_but_keeps_passwords(tmp_path: Path) -> None:
    for name in NAMES:
        (tmp_path / name).write_text("mine\n")
    written = write_example(tmp_path, SERVICES, force=True)
    assert load_inventory(tmp_path / "inventory") == all_in_one()
    assert (tmp_path / "passwords.yml").read_text() == "mine\n"
    assert tmp_path / "passwords.yml" not in written


def test_config_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "colla").write_text("")
    with pytest.raises(BadInput, match="is not a directory"):
        write_example(tmp_path / "colla", SERVICES)
