"""TLS on HAProxy's VIP: what a TLS project renders (HAProxy's binds and bundles, the CA
in every container, https endpoints, every client's CA), what a plain one keeps, and
the refusals: TLS without HAProxy, without certificates."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest
import yaml

from colla.backup.tasks import database_host, dump_task
from colla.catalog import load_services
from colla.cli.app import run
from colla.config.example import write_example
from colla.config.passwords import generate_passwords
from colla.deploy.credentials import admin_auth, clouds_yaml_text, openrc_text
from colla.deploy.desired import desired_state
from colla.deploy.infra import backup_tasks
from colla.deploy.templates import CA_FILE
from colla.errors import BadInput, ExitStatus
from colla.model.specs import NodeSpecs
from colla.model.topology import Topology
from colla.project import Project, load_project
from colla.site import Site

VIP = "127.0.0.2"
TOPOLOGY = Topology({"localhost": "127.0.0.1"}, VIP, "127.0.0.1")
TLS = """
enable_haproxy: true
kolla_enable_tls_internal: "yes"
kolla_enable_tls_external: true
"""


def _config(tmp_path: Path, extra: str, certs: bool = True) -> Path:
    catalog = load_services()
    config_dir = tmp_path / "config"
    write_example(config_dir, catalog.defaults())
    generate_passwords(
        config_dir / "passwords.yml", catalog.required_passwords(set(catalog.services))
    )
    path = config_dir / "globals.yml"
    text = path.read_text().replace('kolla_internal_vip_address: "127.0.0.1"', "")
    path.write_text(f"{text}\n{extra}")
    if certs:
        # colla certs reads the interfaces for names; the same files, made here.
        assert run(["certs", "-c", str(config_dir)]) == ExitStatus.OK
    return config_dir


def _tls_project(tmp_path: Path, extra: str = "") -> Project:
    """A project with TLS on the VIP (its certificates made), and ``extra`` globals."""
    config_dir = _config(tmp_path, TLS + f'kolla_internal_vip_address: "{VIP}"\n')
    with (config_dir / "globals.yml").open("a") as handle:
        handle.write(extra)
    return load_project(config_dir, load_services())


@pytest.fixture
def tls_project(tmp_path: Path) -> Project:
    return _tls_project(tmp_path)


def _node(project: Project) -> NodeSpecs:
    return desired_state(project, load_services(), TOPOLOGY)["localhost"]


def _file(node: NodeSpecs, container: str, name: str) -> str:
    (spec,) = [c for c in node.containers if c.name == container]
    (found,) = [f for f in spec.files if f.name == name]
    return found.content


def test_haproxy_ends_tls_on_the_vip_with_its_bundle(tls_project: Project) -> None:
    node = _node(tls_project)
    cfg = _file(node, "haproxy", "haproxy.cfg")
    assert f"bind {VIP}:5000 ssl crt /etc/haproxy/certs/haproxy-internal.pem" in cfg
    bundle = _file(node, "haproxy", "haproxy-internal.pem")
    assert "BEGIN CERTIFICATE" in bundle and "PRIVATE KEY" in bundle
    (spec,) = [c for c in node.containers if c.name == "haproxy"]
    assert {f.perm for f in spec.files if f.name.endswith(".pem")} == {"0600"}


def _listen(cfg: str, name: str) -> list[str]:
    """The lines of one ``listen`` section of haproxy.cfg."""
    lines = cfg.split(f"listen {name}\n", 1)[1].split("\nlisten ", 1)[0]
    return [line.strip() for line in lines.splitlines() if line.strip()]


def test_the_dashboard_is_served_on_443_and_plain_http_is_redirected(
    tls_project: Project,
) -> None:
    node = _node(tls_project)
    horizon = _listen(_file(node, "haproxy", "haproxy.cfg"), "horizon")
    assert f"bind {VIP}:443 ssl crt /etc/haproxy/certs/haproxy-internal.pem" in horizon
    assert f"bind {VIP}:80" in horizon
    assert "http-request redirect scheme https code 301 unless { ssl_fc }" in horizon
    # HAProxy always sets the header, so Django can trust it; cookies only over https.
    settings = _file(node, "horizon", "local_settings.py")
    assert 'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")' in settings
    assert "SESSION_COOKIE_SECURE = True" in settings
    assert "CSRF_COOKIE_SECURE = True" in settings
    keystone = _listen(_file(node, "haproxy", "haproxy.cfg"), "keystone")
    assert not [line for line in keystone if "redirect" in line]
    assert "http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]" in keystone
    catalog = load_services()
    assert catalog["horizon"].front_port(tls=True) == 443
    assert catalog["horizon"].front_port(tls=False) == 80
    assert catalog["keystone"].front_port(tls=True) == 5000


def test_every_container_trusts_the_ca_and_every_client_uses_it(tls_project: Project) -> None:
    node = _node(tls_project)
    assert tls_project.tls is not None
    for spec in node.containers:
        (ca,) = [f for f in spec.files if f.dest == CA_FILE]
        assert ca.content == tls_project.tls.ca
    nova = configparser.ConfigParser(interpolation=None, strict=False)
    nova.read_string(_file(node, "nova_api", "nova.conf"))
    assert nova["keystone_authtoken"]["auth_url"] == f"https://{VIP}:5000"
    for section in ("keystone_authtoken", "placement", "neutron", "glance"):
        assert nova[section]["cafile"] == CA_FILE
    assert f"https://{VIP}:6080/" in nova["vnc"]["novncproxy_base_url"]
    horizon = _file(node, "horizon", "local_settings.py")
    assert f'OPENSTACK_SSL_CACERT = "{CA_FILE}"' in horizon
    metadata = _file(node, "neutron_metadata_agent", "metadata_agent.ini")
    assert "nova_metadata_protocol = https" in metadata


def test_services_register_https_endpoints(tls_project: Project) -> None:
    node = _node(tls_project)
    (task,) = [t for t in node.tasks["glance"] if t.name == "glance-register"]
    (spec,) = [f for f in task.files if f.name == "register.json"]
    data = json.loads(spec.content)
    assert data["endpoints"]["public"] == f"https://{VIP}:9292"
    assert data["cacert"] == CA_FILE
    assert any(f.dest == CA_FILE for f in task.files)


def test_the_admins_files_carry_the_ca(tls_project: Project) -> None:
    auth = admin_auth(tls_project, load_services(), TOPOLOGY)
    assert auth["auth_url"] == f"https://{VIP}:5000/v3"
    assert tls_project.tls is not None
    ca = str(tls_project.tls.ca_path)
    assert f"export OS_CACERT={ca}" in openrc_text(auth)
    assert yaml.safe_load(clouds_yaml_text(auth))["clouds"]["colla"]["cacert"] == ca


def test_a_plain_project_renders_no_tls(tmp_path: Path) -> None:
    project = load_project(_config(tmp_path, "", certs=False), load_services())
    node = _node(project)
    assert project.tls is None
    assert all(f.dest != CA_FILE for c in node.containers for f in c.files)
    assert "cafile" not in _file(node, "nova_api", "nova.conf")
    assert "SECURE_PROXY_SSL_HEADER" not in _file(node, "horizon", "local_settings.py")


def test_tls_without_haproxy_or_certificates_is_refused(tmp_path: Path) -> None:
    no_haproxy = _config(tmp_path / "a", "kolla_enable_tls_internal: true\n", certs=False)
    with pytest.raises(BadInput, match="HAProxy terminates TLS; set enable_haproxy: true"):
        load_project(no_haproxy, load_services())
    no_certs = _config(tmp_path / "b", TLS, certs=False)
    with pytest.raises(BadInput, match=r"root\.crt: no such CA certificate \(run `colla certs`"):
        load_project(no_certs, load_services())


def test_the_message_bus_over_tls_with_the_internal_certificate(tmp_path: Path) -> None:
    node = _node(_tls_project(tmp_path, 'rabbitmq_enable_tls: "yes"\n'))
    conf = _file(node, "rabbitmq", "rabbitmq.conf")
    assert "listeners.tcp = none" in conf
    assert "listeners.ssl.1 = 127.0.0.1:5672" in conf
    assert f"ssl_options.cacertfile = {CA_FILE}" in conf
    chain = _file(node, "rabbitmq", "rabbitmq-cert.pem")
    key = _file(node, "rabbitmq", "rabbitmq-key.pem")
    assert chain.count("BEGIN CERTIFICATE") == 2 and "PRIVATE KEY" not in chain
    assert key.startswith("-----BEGIN PRIVATE KEY") and "CERTIFICATE" not in key
    (spec,) = [c for c in node.containers if c.name == "rabbitmq"]
    assert {f.perm for f in spec.files if f.name.endswith(".pem")} == {"0600"}
    for container, name in (
        ("nova_conductor", "nova.conf"),
        ("nova_compute", "nova.conf"),
        ("neutron_server", "neutron.conf"),
        ("neutron_l3_agent", "neutron.conf"),
    ):
        parsed = configparser.ConfigParser(interpolation=None, strict=False)
        parsed.read_string(_file(node, container, name))
        assert parsed["oslo_messaging_rabbit"]["ssl"] == "true", container
        assert parsed["oslo_messaging_rabbit"]["ssl_ca_file"] == CA_FILE, container


def test_the_message_bus_is_plain_unless_asked_and_tls_needs_the_internal_side(
    tmp_path: Path, tls_project: Project
) -> None:
    node = _node(tls_project)
    assert "listeners.tcp.1 = 127.0.0.1:5672" in _file(node, "rabbitmq", "rabbitmq.conf")
    assert "ssl = true" not in _file(node, "nova_conductor", "nova.conf")
    for key, what in (
        ("rabbitmq_enable_tls", "RabbitMQ"),
        ("database_enable_tls_backend", "MariaDB"),
    ):
        alone = _config(tmp_path / key, f"enable_haproxy: true\n{key}: true\n", certs=False)
        match = rf"{key}: {what} uses the internal certificate.*set kolla_enable_tls_internal"
        with pytest.raises(BadInput, match=match):
            load_project(alone, load_services())


def test_the_database_over_tls_with_the_internal_certificate(tmp_path: Path) -> None:
    project = _tls_project(tmp_path, "database_enable_tls_backend: true\n")
    node = _node(project)
    server = _file(node, "mariadb", "99-colla.cnf")
    assert "require_secure_transport = ON" in server
    assert f"ssl_ca = {CA_FILE}" in server
    assert "ssl_cert = /etc/mysql/certs/mariadb-cert.pem" in server
    assert "PRIVATE KEY" in _file(node, "mariadb", "mariadb-key.pem")
    keystone = configparser.ConfigParser(interpolation=None, strict=False)
    keystone.read_string(_file(node, "keystone", "keystone.conf"))
    assert keystone["database"]["connection"].endswith(f"?charset=utf8&ssl_ca={CA_FILE}")
    # colla's own database tasks (databases and users, dumps) verify it too.
    clients = [
        f.content for tasks in node.tasks.values() for t in tasks for f in t.files
        if f.name == "client.cnf"
    ]  # fmt: skip
    assert clients and all(f"ssl-ca = {CA_FILE}\nssl-verify-server-cert" in c for c in clients)
    # ...and every task that talks to it over TCP carries the CA it names.
    site = Site(project, load_services())
    dump = dump_task(database_host(site), ["keystone"], "x.sql")
    tasks = [
        *(t for ts in node.tasks.values() for t in ts),
        *backup_tasks(project, site.catalog, TOPOLOGY, "keystone", "x"),
        dump,
    ]
    for task in tasks:
        if any(f.name == "client.cnf" for f in task.files):
            assert any(f.dest == CA_FILE for f in task.files), task.name
    # Nova's cell mappings are templates that each process fills from its own nova.conf,
    # TLS parameters (the query) included; an existing cell1 is updated to them.
    (cells,) = [t for t in node.tasks["nova"] if t.name == "nova-cells"]
    script = next(f.content for f in cells.files if f.name.startswith("colla-nova-cells"))
    assert "cells.update_cell(cell_uuid=cell1[0], db_connection=CELL1" in script
    assert 'CELL1 = _SERVER + "/{path}?{query}"' in script
    nova = configparser.ConfigParser(interpolation=None, strict=False)
    nova.read_string(next(f.content for f in cells.files if f.name == "nova.conf"))
    assert nova["database"]["connection"].endswith(f"?charset=utf8&ssl_ca={CA_FILE}")


def test_the_database_is_plain_unless_asked(tls_project: Project) -> None:
    node = _node(tls_project)
    assert "require_secure_transport" not in _file(node, "mariadb", "99-colla.cnf")
    keystone = _file(node, "keystone", "keystone.conf")
    assert "ssl_ca" not in keystone
