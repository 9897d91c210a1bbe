"""Operator overrides, the kolla-ansible way: which file reaches which container, in which
order, and what is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy.desired import desired_state
from colla.deploy.plan import Observed, make_plan
from colla.errors import BadInput
from colla.model.specs import ContainerSpec, NodeSpecs
from colla.model.topology import Topology
from colla.project import load_project

INVENTORY = """
[control]
ctl1
[network]
ctl1
[compute]
cmp1
cmp2
"""
HOSTS = ("ctl1", "cmp1", "cmp2")
TOPOLOGY = Topology({h: f"10.0.0.{i}" for i, h in enumerate(HOSTS, 1)}, "10.0.0.1", "10.0.0.1")


@pytest.fixture
def config_dir(example_config: Path) -> Path:
    (example_config / "inventory").write_text(INVENTORY)
    (example_config / "config").mkdir()
    return example_config


def _write(config_dir: Path, relative: str, text: str) -> Path:
    path = config_dir / "config" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _nodes(config_dir: Path) -> dict[str, NodeSpecs]:
    catalog = load_services()
    return desired_state(load_project(config_dir, catalog), catalog, TOPOLOGY)


def _file(nodes: dict[str, NodeSpecs], node: str, container: str, name: str) -> str:
    spec = next(c for c in nodes[node].containers if c.name == container)
    return next(f.content for f in spec.files if f.name == name)


def _section(text: str, section: str) -> list[str]:
    """The lines of one section of a rendered INI file."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line == f"[{section}]"
        elif inside and line.strip():
            lines.append(line)
    return lines


def _value(text: str, section: str, key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in _section(text, section)
        if line.split("=", 1)[0].strip() == key
    ]


def test_kolla_precedence_for_nova_compute(config_dir: Path) -> None:
    # Each file sets its own key, and all of them set `order`: the last in kolla's
    # order must win, and each of the others' own keys must still arrive.
    layers = [
        "global.conf",
        "nova.conf",
        "nova/nova_compute.conf",
        "nova/nova-compute.conf",
        "nova/cmp1/nova.conf",
        "nova/cmp1/nova-compute.conf",
    ]
    for i, relative in enumerate(layers):
        _write(config_dir, relative, f"[DEFAULT]\norder = {i}\nkey{i} = {relative}\n")
    nova = _file(_nodes(config_dir), "cmp1", "nova_compute", "nova.conf")
    assert _value(nova, "DEFAULT", "order") == [str(len(layers) - 1)]
    for i, relative in enumerate(layers):
        assert _value(nova, "DEFAULT", f"key{i}") == [relative]
    # Reversed file by file: each later one loses exactly the keys it had won.
    for i in range(len(layers) - 1, 0, -1):
        (config_dir / "config" / layers[i]).unlink()
        nova = _file(_nodes(config_dir), "cmp1", "nova_compute", "nova.conf")
        assert _value(nova, "DEFAULT", "order") == [str(i - 1)]


def test_nova_conf_reaches_every_nova_container_and_task(config_dir: Path) -> None:
    _write(config_dir, "nova.conf", "[DEFAULT]\ncpu_allocation_ratio = 4.0\n")
    nodes = _nodes(config_dir)
    for node, container in (
        ("ctl1", "nova_api"),
        ("ctl1", "nova_scheduler"),
        ("ctl1", "nova_conductor"),
        ("cmp1", "nova_compute"),
        ("cmp2", "nova_compute"),
    ):
        text = _file(nodes, node, container, "nova.conf")
        assert _value(text, "DEFAULT", "cpu_allocation_ratio") == ["4.0"], container
    cells = next(t for t in nodes["ctl1"].tasks["nova"] if t.name == "nova-cells")
    text = next(f.content for f in cells.files if f.name == "nova.conf")
    assert _value(text, "DEFAULT", "cpu_allocation_ratio") == ["4.0"]


def test_container_override_reaches_only_that_container(config_dir: Path) -> None:
    _write(config_dir, "nova/nova-compute.conf", "[libvirt]\ncpu_mode = host-passthrough\n")
    nodes = _nodes(config_dir)
    for node in ("cmp1", "cmp2"):
        compute = _file(nodes, node, "nova_compute", "nova.conf")
        assert _value(compute, "libvirt", "cpu_mode") == ["host-passthrough"]
    assert "cpu_mode" not in _file(nodes, "ctl1", "nova_api", "nova.conf")


def test_per_host_override_reaches_only_that_hosts_container(config_dir: Path) -> None:
    _write(config_dir, "nova/cmp2/nova.conf", "[DEFAULT]\nreserved_host_memory_mb = 2048\n")
    nodes = _nodes(config_dir)
    assert _value(
        _file(nodes, "cmp2", "nova_compute", "nova.conf"), "DEFAULT", "reserved_host_memory_mb"
    ) == ["2048"]
    assert "reserved_host_memory_mb" not in _file(nodes, "cmp1", "nova_compute", "nova.conf")
    assert "reserved_host_memory_mb" not in _file(nodes, "ctl1", "nova_api", "nova.conf")


def test_neutron_conf_reaches_the_server_and_every_agent(config_dir: Path) -> None:
    _write(config_dir, "neutron.conf", "[DEFAULT]\nglobal_physnet_mtu = 9000\n")
    nodes = _nodes(config_dir)
    reached = [
        (node, spec.name)
        for node, specs in nodes.items()
        for spec in specs.containers
        for f in spec.files
        if f.name == "neutron.conf" and "global_physnet_mtu = 9000" in f.content
    ]
    assert sorted(reached) == [
        ("cmp1", "neutron_linuxbridge_agent"),
        ("cmp2", "neutron_linuxbridge_agent"),
        ("ctl1", "neutron_dhcp_agent"),
        ("ctl1", "neutron_l3_agent"),
        ("ctl1", "neutron_linuxbridge_agent"),
        ("ctl1", "neutron_metadata_agent"),
        ("ctl1", "neutron_server"),
    ]


def test_ini_overrides_reach_their_file_everywhere_and_per_host(config_dir: Path) -> None:
    _write(config_dir, "neutron/ml2_conf.ini", "[ml2]\npath_mtu = 9000\n")
    _write(config_dir, "neutron/linuxbridge_agent.ini", "[vxlan]\nttl = 8\n")
    _write(config_dir, "neutron/cmp2/linuxbridge_agent.ini", "[vxlan]\nttl = 16\n")
    nodes = _nodes(config_dir)
    assert _value(_file(nodes, "ctl1", "neutron_server", "ml2_conf.ini"), "ml2", "path_mtu") == [
        "9000"
    ]
    db_sync = next(t for t in nodes["ctl1"].tasks["neutron"] if t.name == "neutron-db-sync")
    assert "path_mtu = 9000" in next(f.content for f in db_sync.files if f.name == "ml2_conf.ini")
    agent = "neutron_linuxbridge_agent"
    assert _value(_file(nodes, "cmp1", agent, "linuxbridge_agent.ini"), "vxlan", "ttl") == ["8"]
    assert _value(_file(nodes, "cmp2", agent, "linuxbridge_agent.ini"), "vxlan", "ttl") == ["16"]
    # The oslo layers (global.conf, neutron.conf) are for neutron.conf only.
    _write(config_dir, "global.conf", "[DEFAULT]\ndebug = true\n")
    nodes = _nodes(config_dir)
    assert "debug" not in _file(nodes, "ctl1", "neutron_server", "ml2_conf.ini")
    assert _value(_file(nodes, "ctl1", "neutron_server", "neutron.conf"), "DEFAULT", "debug") == [
        "true"
    ]


@pytest.mark.parametrize(
    ("relative", "hint"),
    [
        pytest.param("nova/nova-computer.conf", "colla reads: ", id="misspelt-container"),
        pytest.param("glance/glance-api.ini", "colla reads: glance-api.conf", id="no-such-file"),
        pytest.param("nova/cmp9/nova.conf", "no such service or host", id="unknown-host"),
        # ctl1 is a host of nova, but runs no nova_compute.
        pytest.param("nova/ctl1/nova-compute.conf", "colla reads: ", id="not-on-that-host"),
        pytest.param("nova_compute.conf", "colla reads: ", id="colla-part-name"),
        pytest.param("haproxy/haproxy.cfg.conf", "no such service", id="not-overridable"),
    ],
)
def test_an_override_that_reaches_nothing_is_refused_naming_it(
    config_dir: Path, relative: str, hint: str
) -> None:
    path = _write(config_dir, relative, "[DEFAULT]\ndebug = true\n")
    with pytest.raises(BadInput) as caught:
        load_project(config_dir, load_services())
    message = str(caught.value)
    assert message.startswith(f"{path}: this override reaches no rendered file")
    assert hint in message and "\n" not in message


def test_an_override_of_a_disabled_service_says_so(config_dir: Path) -> None:
    with (config_dir / "globals.yml").open("a") as f:
        f.write("enable_horizon: false\n")
    _write(config_dir, "horizon/horizon-uwsgi.ini", "[uwsgi]\nprocesses = 4\n")
    with pytest.raises(BadInput, match=r"horizon-uwsgi.ini: .*service horizon is not enabled"):
        load_project(config_dir, load_services())


@pytest.mark.parametrize("name", ["nova/policy.yaml", "nova/qemu.conf.j2", "README"])
def test_a_file_colla_does_not_apply_is_refused(config_dir: Path, name: str) -> None:
    # kolla-ansible's policy files and whole-file templates are not merged by colla:
    # saying so beats ignoring them.
    path = _write(config_dir, name, "x: 1\n")
    with pytest.raises(BadInput, match=f"^{re.escape(str(path))}: colla applies only INI"):
        load_project(config_dir, load_services())


def test_hidden_files_and_editor_backups_are_not_overrides(config_dir: Path) -> None:
    _write(config_dir, "nova.conf~", "junk")
    _write(config_dir, ".nova.conf.swp", "junk")
    assert load_project(config_dir, load_services()).overrides == {}


def test_non_utf8_override_is_one_line_naming_it(config_dir: Path) -> None:
    path = config_dir / "config" / "nova.conf"
    path.write_bytes(b"[DEFAULT]\ndebug = \xff\n")
    with pytest.raises(BadInput, match=f"^{re.escape(str(path))}:2: not UTF-8 text"):
        load_project(config_dir, load_services())


def test_a_section_misspelt_by_case_or_dash_is_refused(config_dir: Path) -> None:
    _write(config_dir, "nova.conf", "# tune\n\n[default]\ndebug = true\n")
    with pytest.raises(BadInput, match=r"nova.conf:3: section \[default\] .* write \[DEFAULT\]"):
        _nodes(config_dir)
    _write(config_dir, "nova.conf", "[keystone-authtoken]\ntimeout = 3\n")
    with pytest.raises(BadInput, match=r"write \[keystone_authtoken\]"):
        _nodes(config_dir)
    # A section the generated file lacks is the operator's: oslo.config has many.
    _write(config_dir, "nova.conf", "[oslo_messaging_notifications]\ndriver = noop\n")
    assert "driver = noop" in _file(_nodes(config_dir), "ctl1", "nova_api", "nova.conf")


def _observed(specs: dict[str, NodeSpecs]) -> dict[str, list[Observed]]:
    return {
        node: [Observed(c.name, node, "running", c.labels()) for c in s.containers]
        for node, s in specs.items()
    }


def _replans(
    config_dir: Path, before: dict[str, NodeSpecs]
) -> dict[tuple[str, str], tuple[str, ...]]:
    after = _nodes(config_dir)
    plan = make_plan(after, _observed(before), set(load_services().services))
    return {(c.node, c.name): c.reasons for c in plan.actionable}


def test_plan_names_the_override_that_changed_each_container(config_dir: Path) -> None:
    _write(
        config_dir, "nova/nova-compute.conf", "[DEFAULT]\nresume_guests_state_on_host_boot = true\n"
    )
    before = _nodes(config_dir)
    _write(config_dir, "nova/cmp1/nova.conf", "[DEFAULT]\nreserved_host_memory_mb = 1024\n")
    assert _replans(config_dir, before) == {
        ("cmp1", "nova_compute"): (
            "config file nova.conf changed",
            "config override added: config/nova/cmp1/nova.conf",
        )
    }
    before = _nodes(config_dir)
    _write(
        config_dir,
        "nova/nova-compute.conf",
        "[DEFAULT]\nresume_guests_state_on_host_boot = false\n",
    )
    changed = _replans(config_dir, before)
    assert set(changed) == {("cmp1", "nova_compute"), ("cmp2", "nova_compute")}
    assert all("config changed: config/nova/nova-compute.conf" in r for r in changed.values())


def test_an_override_that_changes_no_file_changes_no_container(config_dir: Path) -> None:
    _write(config_dir, "placement.conf", "[DEFAULT]\ndebug = true\n")
    before = _nodes(config_dir)
    _write(config_dir, "placement.conf", "# only a comment more\n[DEFAULT]\ndebug = true\n")
    assert _replans(config_dir, before) == {}


def test_specs_without_overrides_hash_as_before(config_dir: Path) -> None:
    # Recording overrides in the spec must not recreate every container of a cloud
    # deployed by an earlier colla: without overrides the public spec has no such key.
    spec: ContainerSpec = _nodes(config_dir)["ctl1"].containers[0]
    assert "overrides" not in spec.public()


def test_a_mariadb_override_may_hold_bare_flags(config_dir: Path) -> None:
    # MySQL option files take a key alone as a flag; kolla-ansible's operators write
    # them in their galera.cnf overrides, and colla's own rendering has one.
    _write(
        config_dir,
        "mariadb/99-colla.cnf",
        "[mysqld]\nskip-name-resolve\nlocal-infile = 0\nskip-symbolic-links\n",
    )
    text = _file(_nodes(config_dir), "ctl1", "mariadb", "99-colla.cnf")
    mysqld = _section(text, "mysqld")
    # The base's flag is replaced in place, not repeated; new ones are added.
    assert mysqld.count("skip-name-resolve") == 1
    assert "skip-symbolic-links" in mysqld and "local-infile = 0" in mysqld


def test_a_bare_key_in_an_oslo_file_is_still_refused(config_dir: Path) -> None:
    path = _write(config_dir, "glance.conf", "[DEFAULT]\ndebug\n")
    with pytest.raises(BadInput, match=re.escape(f"{path}:2: expected '[section]', 'key = value'")):
        _nodes(config_dir)
