"""The infrastructure's roles: found by what a service provides, checked at load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from colla.catalog import default_services_root, load_services
from colla.errors import BadInput


def test_roles_name_the_infrastructure_services() -> None:
    catalog = load_services()
    assert catalog.provider("database").name == "mariadb"
    assert catalog.provider("identity").name == "keystone"
    assert catalog.database_server()[0].port == 3306
    assert catalog.identity_server()[0].port == 5000
    assert (catalog.provider("cache").name, catalog.provider("cache").port) == ("memcached", 11211)
    messaging = catalog.provider("messaging")
    assert (messaging.name, messaging.port) == ("rabbitmq", 5672)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "services"
    shutil.copytree(default_services_root(), root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_role_has_one_provider(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root / "glance" / "service.yaml", "group: control", "group: control\nprovides: cache")
    with pytest.raises(BadInput, match="'cache' is provided by glance"):
        load_services(root)


def test_the_database_provider_says_how_to_use_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "mariadb" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    del data["database_server"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput, match="provides database but has no database_server"):
        load_services(root)


def test_schema_steps_wait_for_the_database_alone() -> None:
    catalog = load_services()
    names = {"mariadb", "memcached", "rabbitmq", "keystone", "neutron"}
    graph = catalog.graph(names, early={"neutron"})
    assert graph["neutron:early"] == ["mariadb"]
    assert "neutron:early" in graph["neutron"] and "keystone" in graph["neutron"]
    # Without early steps in this deploy (nothing to bootstrap), no such node.
    assert "neutron:early" not in catalog.graph(names)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # A step with needs after one without: the order in the file would not hold.
        (
            "  - name: glance-db-sync\n    needs: [mariadb]\n",
            "  - name: glance-db-sync\n",
            "glance-load-metadefs: steps with 'needs' come before the others",
        ),
        (
            "needs: [mariadb]",
            "needs: [mariadb, rabbitmq]",
            "glance-db-sync: needs rabbitmq, which the service does not depend on",
        ),
        (
            "needs: [mariadb]",
            "needs: [memcached]",
            "glance-db-sync: its databases are made first, so its needs must include mariadb",
        ),
    ],
)
def test_early_steps_are_checked_at_load(tmp_path: Path, old: str, new: str, message: str) -> None:
    root = _copy(tmp_path)
    path = root / "glance" / "service.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(BadInput, match=f"glance/service.yaml: bootstrap: {message}"):
        load_services(root)
