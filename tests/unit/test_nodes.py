"""Reaching nodes: engine endpoints from inventory hosts, the ssh command, --limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.config.example import write_example
from colla.config.inventory import load_inventory
from colla.config.passwords import generate_passwords
from colla.deploy.nodes import endpoints, host_facts, parse_limit
from colla.deploy.prechecks import check_single_hosts
from colla.engine.endpoint import Endpoint, HostFacts, endpoint_for, ssh_command
from colla.errors import BadInput
from colla.project import Project, load_project

INVENTORY = """
[control]
node1 ansible_host=10.9.0.11 ansible_user=ops ansible_port=2222 \
ansible_ssh_private_key_file=/keys/lab colla_ssh_known_hosts=/keys/known_hosts
[network:children]
control
[compute]
node2 ansible_host=10.9.0.12
node3 colla_docker_url=tcp://10.9.0.13:2376 colla_docker_tls_ca=/t/ca.pem \
colla_docker_tls_cert=/t/cert.pem colla_docker_tls_key=/t/key.pem
localhost ansible_connection=local
"""


@pytest.fixture
def project(example_config: Path) -> Project:
    (example_config / "inventory").write_text(INVENTORY)
    return load_project(example_config, load_services())


def test_each_host_gets_the_engine_its_inventory_line_says(project: Project) -> None:
    found = endpoints(project)
    assert found["localhost"] == Endpoint("localhost", "local", "local")
    node1 = found["node1"]
    assert (node1.kind, node1.url) == ("ssh", "ssh://ops@10.9.0.11:2222")
    assert (node1.key_file, node1.known_hosts) == ("/keys/lab", "/keys/known_hosts")
    assert found["node2"].url == "ssh://root@10.9.0.12:22"
    assert found["node2"].key_file is None
    node3 = found["node3"]
    assert (node3.kind, node3.host, node3.port) == ("tcp", "10.9.0.13", 2376)
    assert node3.tls is not None and node3.tls.cert == "/t/cert.pem"
    assert all(e.remote for n, e in found.items() if n != "localhost")


def test_plain_tcp_is_refused_naming_file_host_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "inventory"
    path.write_text("[control]\nnode1 colla_docker_url=tcp://10.9.0.11:2375\n")
    host = host_facts(load_inventory(path).hosts["node1"])
    with pytest.raises(BadInput) as e:
        endpoint_for(host, str(path))
    message = str(e.value)
    assert message.startswith(f"{path}: host node1: colla_docker_url tcp://10.9.0.11:2375")
    assert "refuses an engine without TLS" in message
    assert "colla_docker_tls_ca, colla_docker_tls_cert, colla_docker_tls_key" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://10.0.0.1:2375", "expected ssh://user@host[:port] or tcp://host:port"),
        ("tcp://10.0.0.1", "expected tcp://host:port"),
        ("ssh://:22", "no host name"),
        ("ssh://h:99999", "bad port"),
    ],
)
def test_bad_engine_urls_are_refused(url: str, expected: str) -> None:
    host = HostFacts("n", "10.0.0.1", local=False, vars={"colla_docker_url": url})
    with pytest.raises(BadInput, match="inv: host n: colla_docker_url"):
        try:
            endpoint_for(host, "inv")
        except BadInput as e:
            assert expected in str(e)
            raise


def test_an_ssh_url_takes_user_and_port_over_the_inventory_ones() -> None:
    host = HostFacts(
        "n", "10.0.0.1", local=False, user="x", port=2200, vars={"colla_docker_url": "ssh://a@h"}
    )
    found = endpoint_for(host, "inv")
    assert found.url == "ssh://a@h:2200"


def test_the_ssh_command_checks_host_keys_strictly_and_names_the_key() -> None:
    endpoint = Endpoint(
        "n",
        "ssh",
        "ssh://ops@10.0.0.1:2222",
        host="10.0.0.1",
        port=2222,
        user="ops",
        key_file="/keys/lab",
        known_hosts="/keys/known_hosts",
    )
    command = ssh_command(endpoint, "/tmp/x/docker.sock")
    text = " ".join(command)
    assert "StrictHostKeyChecking=yes" in text and "BatchMode=yes" in text
    assert "UserKnownHostsFile=/keys/known_hosts" in text
    assert "-i /keys/lab -o IdentitiesOnly=yes" in text
    assert "-L /tmp/x/docker.sock:/var/run/docker.sock" in text
    assert command[-3:] == ["--", "10.0.0.1", "cat >/dev/null"]
    assert "accept-new" not in text and "StrictHostKeyChecking=no" not in text


def test_limit_names_known_nodes(project: Project) -> None:
    assert parse_limit(None, project) is None
    assert parse_limit("node2, node3", project) == frozenset({"node2", "node3"})
    with pytest.raises(BadInput, match=r"--limit: node\(s\) node9 not in .*inventory"):
        parse_limit("node2,node9", project)
    with pytest.raises(BadInput, match="without empty names"):
        parse_limit("node2,", project)
    assert set(endpoints(project, frozenset({"node2"}))) == {"node2"}


def test_the_plan_groups_changes_by_node() -> None:
    from colla.deploy.plan import Action, Change, Plan

    plan = Plan(
        (
            Change(Action.CREATE, "node2", "memcached", "memcached", ("new",)),
            Change(Action.NOOP, "node1", "mariadb", "mariadb", ("up to date",)),
            Change(Action.CREATE, "node1", "memcached", "memcached", ("new",)),
            Change(Action.REMOVE, "node3", "memcached", "memcached", ("gone",)),
        )
    )
    grouped = plan.by_node()
    assert list(grouped) == ["node1", "node2", "node3"]
    assert [c.name for c in grouped["node1"]] == ["mariadb", "memcached"]
    assert [c.action for c in grouped["node3"]] == [Action.REMOVE]


def test_a_service_group_in_the_inventory_places_that_service(tmp_path: Path) -> None:
    from colla.deploy.desired import Topology, desired_state

    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    generate_passwords(
        tmp_path / "passwords.yml", catalog.required_passwords(set(catalog.services))
    )
    (tmp_path / "inventory").write_text(
        "[control]\nn1 ansible_host=10.0.0.1\n[compute]\nn2 ansible_host=10.0.0.2\n"
        "n3 ansible_host=10.0.0.3\n[network:children]\ncontrol\n"
        "[memcached:children]\ncontrol\ncompute\n"
    )
    project = load_project(tmp_path, catalog)
    addresses = {"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"}
    nodes = desired_state(project, catalog, Topology(addresses, "10.0.0.1", "10.0.0.1"))
    assert "memcached" in [c.name for c in nodes["n2"].containers]
    assert "memcached" in [c.name for c in nodes["n3"].containers]
    assert "keystone" in [c.name for c in nodes["n1"].containers]
    keystone = next(c for c in nodes["n1"].containers if c.name == "keystone")
    conf = next(f.content for f in keystone.files if f.name == "keystone.conf")
    assert "10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211" in conf
    memcached = next(c for c in nodes["n2"].containers if c.name == "memcached")
    assert "-l 10.0.0.2" in json.loads(memcached.files[-1].content)["command"]


def _control_project(tmp_path: Path, control: list[str], extra: str = "") -> Project:
    tmp_path.mkdir(exist_ok=True)
    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    generate_passwords(
        tmp_path / "passwords.yml", catalog.required_passwords(set(catalog.services))
    )
    lines = "".join(f"{n} ansible_host=10.0.0.{i}\n" for i, n in enumerate(control, 1))
    (tmp_path / "inventory").write_text(
        f"[control]\n{lines}[network:children]\ncontrol\n[compute]\nc1 ansible_host=10.0.1.1\n"
        + extra
    )
    return load_project(tmp_path, catalog)


def test_one_control_host_is_fine(tmp_path: Path) -> None:
    project = _control_project(tmp_path, ["node1"])
    check_single_hosts(project, load_services())


def test_several_control_hosts_are_refused_until_colla_can_cluster(tmp_path: Path) -> None:
    project = _control_project(tmp_path, ["node1", "node2", "node3"])
    with pytest.raises(BadInput) as e:
        check_single_hosts(project, load_services())
    # keystone is the first of them by name.
    assert str(e.value) == (
        f"{tmp_path / 'inventory'}: group 'control' has 3 hosts (node1, node2, node3); "
        "colla makes fernet and credential keys on one host and cannot share them yet, so "
        "tokens from one host would fail on another: put one host in it"
    )


def test_a_service_group_of_its_own_is_what_counts(tmp_path: Path) -> None:
    # Three control hosts, but MariaDB, RabbitMQ and Keystone each on one: allowed.
    three = ["node1", "node2", "node3"]
    own = "".join(f"[{s}]\nnode1\n" for s in ("mariadb", "rabbitmq", "keystone"))
    check_single_hosts(_control_project(tmp_path / "a", three, own), load_services())
    two = own.replace("[mariadb]\nnode1\n", "[mariadb]\nnode1\nnode2\n")
    with pytest.raises(BadInput) as e:
        check_single_hosts(_control_project(tmp_path / "b", three, two), load_services())
    assert str(e.value).endswith(
        "inventory: group 'mariadb' has 2 hosts (node1, node2); colla cannot cluster MariaDB "
        "yet, so a second host would hold a separate database: put one host in it"
    )


def test_only_the_catalog_says_which_services_run_on_one_host() -> None:
    single = sorted(n for n, s in load_services().services.items() if s.single_host)
    assert single == ["keystone", "mariadb", "rabbitmq"]
