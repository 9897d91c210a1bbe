"""TLS on every endpoint (issue 17): HAProxy ends TLS on the VIP with the certificates
`colla certs` made, every service reaches the others over https with the CA colla
copied into its container (a server boots), and the real client works with the CA from
post-deploy and fails without it. Plain HTTP to an API on the VIP gets no answer; the
dashboard's port 80 redirects to 443, where the headless browser logs in.

test_upgrade_haproxy, before it, switched HAProxy and TLS on in one deploy (this module
switches them itself when run alone: ``haproxy_with_tls``), and they stay on for
test_stop, the last module on the all-in-one cloud.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from colla.cli.app import run
from colla.engine import Engine
from tests.e2e.browser import horizon_lists_the_server
from tests.e2e.conftest import BIN, VIP, haproxy_with_tls, openstack, vip_context
from tests.e2e.test_full_cloud import Tenant
from tests.e2e.test_upgrade_haproxy import Load, _token

pytestmark = pytest.mark.e2e

AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


@pytest.fixture(scope="module")
def tls_on(config_dir: Path) -> Path:
    return haproxy_with_tls(config_dir)


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

    # https with the CA answers; plain HTTP to an API on the VIP gets no answer at all,
    # and the dashboard's plain port only redirects to https.
    assert _get(f"https://{VIP}:5000/v3", ca) == 200
    with pytest.raises((OSError, urllib.error.URLError)):
        _get(f"http://{VIP}:5000/v3", None)
    plain = http.client.HTTPConnection(VIP, 80, timeout=10)
    try:
        plain.request("GET", "/auth/login/")
        response = plain.getresponse()
        assert response.status == 301
        assert response.getheader("Location") == f"https://{VIP}/auth/login/"
    finally:
        plain.close()


def _broker_certificate(config_dir: Path) -> bytes:
    """The certificate RabbitMQ serves (DER), verified with colla's CA."""
    context = vip_context(config_dir)
    with (
        socket.create_connection(("127.0.0.1", 5672), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_the_message_bus_speaks_only_tls(tls_on: Path) -> None:
    """RabbitMQ answers AMQP inside TLS with a certificate colla's CA signed, and
    nothing in clear (the services' RPC, a server boot below, goes over TLS)."""
    context = vip_context(tls_on)
    with (
        socket.create_connection(("127.0.0.1", 5672), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(AMQP_HEADER)
        assert tls.recv(3) == b"\x01\x00\x00"  # a method frame on channel 0: Start
    with socket.create_connection(("127.0.0.1", 5672), timeout=10) as plain:
        plain.sendall(AMQP_HEADER)
        try:
            answer = plain.recv(64)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"\x01\x00\x00"), answer


def _sql(engine: Engine, config_dir: Path, *flags: str) -> tuple[int, str]:
    """The database's TLS cipher, asked over TCP by the MariaDB client in its container."""
    password = yaml.safe_load((config_dir / "passwords.yml").read_text())["database_password"]
    query = "SHOW SESSION STATUS LIKE 'Ssl_cipher'"
    argv = ["mariadb", "-h", "127.0.0.1", "-uroot", f"-p{password}", *flags, "-N", "-e", query]
    return engine.exec("mariadb", argv)


def test_the_database_refuses_plain_tcp(tls_on: Path, engine: Engine) -> None:
    """MariaDB serves TCP clients over TLS only, with a certificate colla's CA signed
    (the client checks it and the address); every service reached it so to deploy."""
    code, out = _sql(
        engine, tls_on, "--ssl", "--ssl-ca=/etc/ssl/colla-ca.crt", "--ssl-verify-server-cert"
    )
    assert code == 0 and out.split()[-1].startswith("TLS_"), out
    # The same credentials in clear are refused (MariaDB 10.11 says "Access denied").
    code, out = _sql(engine, tls_on, "--skip-ssl")
    assert code != 0 and ("insecure transport" in out or "Access denied" in out), out


def test_the_cloud_works_over_tls(tls_on: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Services talk to each other through the VIP over https: the image round trip,
    placement, compute, the network agents and the dashboard's login page (https)."""
    capsys.readouterr()
    assert run(["check", "-c", str(tls_on)]) == 0
    out = capsys.readouterr().out
    assert f"GET https://{VIP}:443/auth/login/" in out.replace("\n", "")
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
    allocation from Placement, each through the VIP over https; the dashboard shows it."""
    tenant.flavor_and_image("colla-tls", "colla-tls", tmp_path)
    tenant.network("colla-tls", "colla-tls", "10.77.0.0/24")
    tenant.make(
        ("server", "delete", "--wait", "colla-tls"),
        *("server", "create", "--image", "colla-tls", "--flavor", "colla-tls"),
        *("--network", "colla-tls", "colla-tls"),
    )
    tenant.wait_active("colla-tls")

    # The dashboard, in the headless browser: asked over plain HTTP, served over https
    # with colla's certificate, and it lists the server.
    ca = tls_on / "certificates" / "ca" / "root.crt"
    served = horizon_lists_the_server(tls_on, "colla-tls", f"http://{VIP}", ca, tag="horizon-tls")
    assert served == f"https://{VIP}/auth/login/"


def test_a_renewed_certificate_reaches_haproxy_by_a_reload(
    tls_on: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`colla certs --renew`, then `colla deploy` under the upgrade tests' load loop:
    HAProxy, RabbitMQ and MariaDB are reloaded, not recreated, HAProxy and RabbitMQ
    serve the new certificate, and no request fails; a second deploy has nothing to
    change."""
    served_before = ssl.get_server_certificate((VIP, 5000))
    broker_before = _broker_certificate(tls_on)
    before = {name: engine.container(name) for name in ("haproxy", "rabbitmq", "mariadb")}
    load = Load(_token(tls_on), vip_context(tls_on))
    load.thread.start()
    try:
        time.sleep(1)
        assert run(["certs", "--renew", "-c", str(tls_on)]) == 0
        capsys.readouterr()
        assert run(["deploy", "-c", str(tls_on)]) == 0
        time.sleep(1)
    finally:
        load.stop.set()
        load.thread.join()
    planned = capsys.readouterr().out
    time.sleep(3)  # the last requests finish (2 s timeout)
    assert load.sent > 20
    assert load.failed == 0, f"{load.failed} of {load.sent} requests failed"
    assert "reload" in planned and "recreate" not in planned, planned
    for name, container in before.items():
        after = engine.container(name)
        assert container is not None and after is not None
        assert after.id == container.id and after.health == "healthy", name
    assert ssl.get_server_certificate((VIP, 5000)) != served_before
    assert _broker_certificate(tls_on) != broker_before
    assert run(["deploy", "-c", str(tls_on)]) == 0
    assert "nothing to change" in capsys.readouterr().out
