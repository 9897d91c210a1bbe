"""TLS on every endpoint (issue 17): HAProxy ends TLS on the VIP with the certificates
`colla certs` made, every service reaches the others over https with the CA colla
copied into its container (a server boots), and the real client works with the CA from
post-deploy and fails without it. Plain HTTP to the VIP gets no answer.

It follows test_upgrade_haproxy, which left HAProxy on (it turns it on itself when run
alone), and leaves TLS on for test_stop, the last module on the all-in-one cloud.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from colla.cli.app import run
from tests.e2e.conftest import BIN, openstack
from tests.e2e.test_full_cloud import Tenant, wait_until

pytestmark = pytest.mark.e2e

VIP = "127.0.0.2"


@pytest.fixture(scope="module")
def tls_on(config_dir: Path) -> Path:
    globals_path = config_dir / "globals.yml"
    text = globals_path.read_text()
    if "enable_haproxy: true" not in text:
        text = text.replace(
            'kolla_internal_vip_address: "127.0.0.1"', f'kolla_internal_vip_address: "{VIP}"'
        )
        text += "enable_haproxy: true\n"
    globals_path.write_text(
        text + "kolla_enable_tls_internal: true\nkolla_enable_tls_external: true\n"
    )
    assert run(["certs", "-c", str(config_dir)]) == 0
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert run(["post-deploy", "-c", str(config_dir)]) == 0
    return config_dir


def _get(url: str, cafile: Path | None) -> int:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        return int(response.status)


def test_every_endpoint_is_https_and_the_client_needs_the_ca(tls_on: Path, tmp_path: Path) -> None:
    config_dir = tls_on
    ca = config_dir / "certificates" / "ca" / "root.crt"
    clouds = yaml.safe_load((config_dir / "clouds.yaml").read_text())
    assert clouds["clouds"]["colla"]["cacert"] == str(ca)
    assert clouds["clouds"]["colla"]["auth"]["auth_url"] == f"https://{VIP}:5000/v3"
    endpoints = json.loads(openstack(config_dir, "endpoint", "list", "-f", "json"))
    assert endpoints and all(e["URL"].startswith(f"https://{VIP}:") for e in endpoints)
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()

    # Without the CA the same client refuses the server's certificate.
    del clouds["clouds"]["colla"]["cacert"]
    bare = tmp_path / "clouds.yaml"
    bare.write_text(yaml.safe_dump(clouds))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(bare), "OS_CLOUD": "colla"}
    env.pop("OS_CACERT", None)
    refused = subprocess.run(
        [str(BIN / "openstack"), "token", "issue"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "certificate" in refused.stderr.lower() or "ssl" in refused.stderr.lower()

    # https with the CA answers; plain HTTP to the VIP gets no answer at all.
    assert _get(f"https://{VIP}:5000/v3", ca) == 200
    with pytest.raises((OSError, urllib.error.URLError)):
        _get(f"http://{VIP}:5000/v3", None)


def test_the_cloud_works_over_tls(tls_on: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Services talk to each other through the VIP over https: the image round trip,
    placement, compute, the network agents and the dashboard's login page (https)."""
    capsys.readouterr()
    assert run(["check", "-c", str(tls_on)]) == 0
    out = capsys.readouterr().out
    assert f"GET https://{VIP}:80/auth/login/" in out.replace("\n", "")
    assert run(["certs", "--check", "-c", str(tls_on)]) == 0


@pytest.fixture
def tenant(tls_on: Path) -> Iterator[Tenant]:
    made = Tenant(tls_on)
    try:
        yield made
    finally:
        made.delete_all()


def test_a_server_boots_over_tls(tls_on: Path, tenant: Tenant, tmp_path: Path) -> None:
    """nova-compute gets the image from Glance, the port from Neutron and the
    allocation from Placement, each through the VIP over https."""
    tenant.flavor_and_image("colla-tls", "colla-tls", tmp_path)
    tenant.make(("network", "delete", "colla-tls"), "network", "create", "colla-tls")
    tenant.make(
        ("subnet", "delete", "colla-tls"),
        *("subnet", "create", "--network", "colla-tls", "--subnet-range", "10.77.0.0/24"),
        "colla-tls",
    )
    tenant.make(
        ("server", "delete", "--wait", "colla-tls"),
        *("server", "create", "--image", "colla-tls", "--flavor", "colla-tls"),
        *("--network", "colla-tls", "colla-tls"),
    )

    def active() -> bool:
        status = openstack(tls_on, "server", "show", "colla-tls", "-f", "value", "-c", "status")
        assert status.strip() != "ERROR"
        return status.strip() == "ACTIVE"

    wait_until("server colla-tls ACTIVE", active)
