"""Every file a deployment renders, with a hostile password for every key, read back by
the program that reads it: each password arrives exactly as passwords.yml holds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from colla.catalog import load_services
from colla.config.example import write_example
from colla.deploy.credentials import admin_auth, clouds_yaml_text, openrc_text
from colla.deploy.desired import desired_state
from colla.deploy.infra import backup_tasks
from colla.model.services import ServiceCatalog
from colla.model.specs import RenderedFile
from colla.model.topology import Topology
from colla.project import Project, load_project
from tests.passwords import nasty_passwords
from tests.readers import (
    mycnf_values,
    oslo_values,
    python_assignments,
    shell_value,
    sql_literals,
    url_credentials,
)

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")
# Rendered files that are not oslo.config INI files and hold no password: their
# formats (uwsgi, libvirt, HAProxy, RabbitMQ's own) never receive operator values
# other than validated addresses.
NO_SECRETS = {
    "99-colla.cnf",
    "colla-mariadb-start",
    "colla-nova-discover",
    "colla-register.py",
    "config.json",
    "haproxy.cfg",
    "libvirtd.conf",
    "qemu.conf",
    "rabbitmq.conf",
}
OSLO = {
    "keystone.conf",
    "glance-api.conf",
    "placement.conf",
    "nova.conf",
    "neutron.conf",
    "ml2_conf.ini",
    "dhcp_agent.ini",
    "l3_agent.ini",
    "linuxbridge_agent.ini",
    "metadata_agent.ini",
}


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_services()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, catalog: ServiceCatalog) -> Project:
    config_dir = tmp_path_factory.mktemp("config")
    write_example(config_dir, catalog.defaults())
    every = set(catalog.services)
    keys = catalog.required_passwords(every)
    values = nasty_passwords(keys, catalog.ascii_passwords(every))
    (config_dir / "passwords.yml").write_text(yaml.safe_dump(values, allow_unicode=True), "utf-8")
    return load_project(config_dir, catalog)


def _files(project: Project, catalog: ServiceCatalog) -> list[RenderedFile]:
    node = desired_state(project, catalog, TOPOLOGY)["localhost"]
    files = [f for c in node.containers for f in c.files]
    files += [
        f for steps in (*node.tasks.values(), *node.post.values()) for t in steps for f in t.files
    ]
    files += list(backup_tasks(project, catalog, TOPOLOGY, "keystone", "dump")[0].files)
    return files


def _password_of_user(catalog: ServiceCatalog, user: str, kind: str) -> str:
    """The passwords.yml key of a Keystone user (``kind`` keystone) or of a database
    user (``kind`` database; RabbitMQ's user counts as one): glance is both, with
    different passwords."""
    fixed = {"openstack": "rabbitmq_password", "root": "database_password"}
    if kind == "database" and user in fixed:
        return fixed[user]
    if kind == "keystone" and user == "admin":
        return "keystone_admin_password"
    for service in catalog.services.values():
        if kind == "keystone" and service.keystone is not None and service.keystone.user == user:
            return service.keystone.password
        for db in service.databases if kind == "database" else ():
            if db.user == user:
                return db.password
    raise AssertionError(f"no {kind} password for user {user}")


def _holds_a_password(text: str, passwords: dict[str, str]) -> bool:
    # Short values (a lone quote) are found everywhere; the long ones are telling.
    return any(value in text for value in passwords.values() if len(value) >= 8)


def _check_oslo(
    path: Path, passwords: dict[str, str], catalog: ServiceCatalog, seen: set[str]
) -> None:
    for section, options in oslo_values(path).items():
        if "password" in options:
            key = _password_of_user(catalog, options["username"], "keystone")
            assert options["password"] == passwords[key], (path.name, section)
            seen.add(key)
        for name in ("connection", "transport_url"):
            if name in options:
                for url in options[name].removeprefix("rabbit://").split(","):
                    url = url if "://" in url else "rabbit://" + url
                    user, password, _ = url_credentials(url)
                    key = _password_of_user(catalog, user, "database")
                    assert password == passwords[key], (path.name, section, name)
                    seen.add(key)
        if "metadata_proxy_shared_secret" in options:
            assert options["metadata_proxy_shared_secret"] == passwords["metadata_secret"]
            seen.add("metadata_secret")


def test_every_password_reaches_every_file_intact(
    tmp_path: Path, project: Project, catalog: ServiceCatalog
) -> None:
    passwords = dict(project.passwords.values)
    seen: set[str] = set()
    for item in _files(project, catalog):
        text = item.content
        path = tmp_path / item.name
        path.write_text(text, "utf-8")
        if item.name in OSLO:
            _check_oslo(path, passwords, catalog, seen)
        elif item.name == "client.cnf":
            assert mycnf_values(text)["client"]["password"] == passwords["database_password"]
            seen.add("database_password")
        elif item.name.endswith(".sql"):
            for statement in text.split(";\n"):
                if "IDENTIFIED BY" in statement:
                    user, _, password = sql_literals(statement)
                    assert password == passwords[_password_of_user(catalog, user, "database")], (
                        statement
                    )
                    seen.add(_password_of_user(catalog, user, "database"))
        elif item.name == "colla-keystone-bootstrap":
            admin = python_assignments(text)["ADMIN_PASSWORD"]
            assert admin == passwords["keystone_admin_password"]
        elif item.name == "colla-nova-cells":
            # cell0's and cell1's mappings hold templates of the URLs, which each Nova
            # process fills from its own nova.conf (so they hold no password). Filled
            # as Nova fills them, they give back the URLs the services use.
            # (test_rotate_password fills them.)
            assert not _holds_a_password(text, passwords)
        elif item.name == "rabbitmq-env.conf":
            assert shell_value(text, "NODE_IP_ADDRESS") == "127.0.0.1"
        elif item.name == "definitions.json":
            assert json.loads(text)["users"][0]["name"] == "openstack"
        elif item.name == "register.json":
            spec = json.loads(text)
            assert spec["admin"]["password"] == passwords["keystone_admin_password"]
            assert (
                spec["user"]["password"]
                == passwords[_password_of_user(catalog, spec["user"]["name"], "keystone")]
            )
        elif item.name == "local_settings.py":
            settings = python_assignments(text)
            assert settings["SECRET_KEY"] == passwords["horizon_secret_key"]
            seen.add("horizon_secret_key")
        elif item.name.endswith("-uwsgi.ini"):
            assert not _holds_a_password(text, passwords)
        else:
            assert item.name in NO_SECRETS, f"{item.name}: say how this format is read"
            assert not _holds_a_password(text, passwords), item.name
    assert seen == set(catalog.required_passwords(set(catalog.services))) - {
        "keystone_admin_password"
    }


def test_admin_credentials_files_read_back(project: Project) -> None:
    auth = admin_auth(project, load_services(), TOPOLOGY)
    password = project.passwords["keystone_admin_password"]
    assert shell_value(openrc_text(auth), "OS_PASSWORD") == password
    assert shell_value(openrc_text(auth), "OS_AUTH_URL") == "http://127.0.0.1:5000/v3"
    cloud = yaml.safe_load(clouds_yaml_text(auth))["clouds"]["colla"]
    assert cloud["auth"]["password"] == password
