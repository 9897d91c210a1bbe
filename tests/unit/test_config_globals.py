"""globals.yml: kolla-ansible key names, enable_ flags, one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.config.globals import Globals, load_globals
from colla.errors import BadInput

SERVICES = {"mariadb": True, "keystone": True, "glance": True, "placement": False}


def _load(tmp_path: Path, text: str) -> Globals:
    path = tmp_path / "globals.yml"
    path.write_text(text)
    return load_globals(path, SERVICES)


def test_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    g = _load(tmp_path, "network_interface: eth0\n")
    assert g.openstack_release == "zed"
    assert g.image_tag == "zed"
    assert g.kolla_base_distro == "debian"
    assert g.effective_api_interface == "eth0"
    assert g.kolla_internal_vip_address is None
    assert g.docker_registry is None
    assert g.docker_namespace == "colla"
    assert g.colla_health_timeout == 300
    assert g.enabled == SERVICES


def test_kolla_style_file(tmp_path: Path) -> None:
    g = _load(
        tmp_path,
        "---\n"
        'kolla_base_distro: "debian"\n'
        'openstack_release: "zed"\n'
        'openstack_tag: "zed-3"\n'
        'network_interface: "eth0"\n'
        'api_interface: "eth1"\n'
        'kolla_internal_vip_address: "10.10.10.254"\n'
        'docker_registry: "registry.example.com:4000"\n'
        'enable_placement: "yes"\n'
        'enable_glance: "no"\n'
        "enable_keystone: yes\n"
        "colla_health_timeout: 600\n",
    )
    assert g.image_tag == "zed-3"
    assert g.effective_api_interface == "eth1"
    assert g.kolla_internal_vip_address == "10.10.10.254"
    assert g.docker_registry == "registry.example.com:4000"
    assert g.enabled == {"mariadb": True, "keystone": True, "glance": False, "placement": True}
    assert g.colla_health_timeout == 600


def test_ipv6_vip_is_accepted(tmp_path: Path) -> None:
    g = _load(tmp_path, "network_interface: eth0\nkolla_internal_vip_address: 'fd00::0:1'\n")
    assert g.kolla_internal_vip_address == "fd00::1"


def test_globals_are_frozen(tmp_path: Path) -> None:
    g = _load(tmp_path, "network_interface: eth0\n")
    with pytest.raises(ValueError, match="frozen"):
        g.network_interface = "eth1"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "enable_nova: true",
            r"key 'enable_nova': colla does not know service 'nova' "
            r"\(known: glance, keystone, mariadb, placement\)",
        ),
        ("enable_glance: maybe", "key 'enable_glance': expected a boolean"),
        ("enable_glance: 1", "key 'enable_glance': expected a boolean"),
        ("enabled: {glance: true}", "unknown key 'enabled'"),
        ("neutron_plugin_agent: ovn", "unknown key 'neutron_plugin_agent'"),
        ("kolla_base_distro: ubuntu", "key 'kolla_base_distro': colla builds Debian images only"),
        ("colla_health_timeout: soon", r"timeout': expected an integer \(got 'soon'\)"),
        ("colla_health_timeout: '300'", "key 'colla_health_timeout': expected an integer"),
        ("colla_health_timeout: true", "key 'colla_health_timeout': expected an integer"),
        ("colla_health_timeout: 5", "key 'colla_health_timeout': must be at least 10"),
        ("colla_health_timeout: 3601", "key 'colla_health_timeout': must be at most 3600"),
        ("openstack_release: 2023.1", r"release': expected a string \(got 2023\.1; put it in"),
        ("openstack_tag: 'bad tag'", "key 'openstack_tag'"),
        ("api_interface: 'a very long interface'", "key 'api_interface'"),
        ("kolla_internal_vip_address: 10.0.0.300", "vip_address': expected an IPv4 or IPv6"),
        ("docker_registry: 'https://r.example.com'", r"registry': expected host\[:port\]"),
        ("docker_namespace: Colla", "key 'docker_namespace'"),
    ],
)
def test_bad_key(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(BadInput, match=message) as info:
        _load(tmp_path, f"network_interface: eth0\n{line}\n")
    assert str(info.value).startswith(f"{tmp_path / 'globals.yml'}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}\n", r"globals\.yml: missing key 'network_interface'"),
        ("network_interface: 5\n", r"globals\.yml: key 'network_interface': expected a string"),
        ("a: 1\nnetwork_interface: [eth0\n", r"globals\.yml:\d+: malformed YAML"),
        ("- network_interface\n", r"globals\.yml: expected a mapping"),
    ],
)
def test_bad_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        _load(tmp_path, text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"globals\.yml: no such file"):
        load_globals(tmp_path / "globals.yml", SERVICES)


def test_container_logs_are_bounded_by_default_and_by_the_operator(tmp_path: Path) -> None:
    g = _load(tmp_path, "network_interface: eth0\n")
    assert (g.docker_log_max_size, g.docker_log_max_file) == ("50m", 5)
    g = _load(
        tmp_path, "network_interface: eth0\ndocker_log_max_size: 10m\ndocker_log_max_file: 2\n"
    )
    assert (g.docker_log_max_size, g.docker_log_max_file) == ("10m", 2)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("docker_log_max_size: lots", "docker_log_max_size"),
        ("docker_log_max_size: 50", "docker_log_max_size"),
        ("docker_log_max_size: 0m", "docker_log_max_size"),
        ("docker_log_max_file: 0", "docker_log_max_file"),
        ('docker_log_max_file: "5"', "docker_log_max_file"),
    ],
)
def test_a_bad_log_bound_names_the_file_and_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(BadInput) as e:
        _load(tmp_path, f"network_interface: eth0\n{line}\n")
    assert str(e.value).startswith(f"{tmp_path / 'globals.yml'}: key '{key}': ")
    assert "\n" not in str(e.value)
