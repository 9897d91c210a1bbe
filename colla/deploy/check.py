"""``colla check``: talk to the real APIs with openstacksdk and say what answers."""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import time
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import openstack

from colla.errors import CollaError
from colla.model.services import ServiceDef

Say = Callable[[str], None]
IMAGE_BYTES = 1024 * 1024
COMPUTE_WAIT = 120.0


@dataclass(frozen=True)
class Probe:
    """One API check's outcome."""

    name: str
    ok: bool
    detail: str
    seconds: float


def _probe(name: str, action: Callable[[], str]) -> Probe:
    started = time.monotonic()
    try:
        detail = action()
    except Exception as e:
        return Probe(
            name, False, f"{type(e).__name__}: {e}".splitlines()[0], time.monotonic() - started
        )
    return Probe(name, True, detail, time.monotonic() - started)


def run_checks(
    auth: dict[str, str],
    services: Sequence[ServiceDef],
    reach: Callable[[ServiceDef], str] | None = None,
) -> list[Probe]:
    """Token, catalog, the probe of each enabled service that declares one, and the
    dashboard's login page at ``reach(service)`` (a base URL) when the service with that
    probe is enabled."""
    # The SDK warns about its own future; an operator running a check cannot act on it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probes = _run_checks(auth, services)
    dashboards = [s for s in services if s.probe == "dashboard"]
    if dashboards and reach is not None:
        base = reach(dashboards[0])
        cafile = auth.get("cacert")
        probes.append(_probe("dashboard", lambda: _dashboard(base, cafile)))
    return probes


def registered(services: Sequence[ServiceDef]) -> set[str]:
    """The names the identity service's catalog must list: its own and those of the
    enabled services it registers."""
    names = {s.identity_server.catalog_name for s in services if s.identity_server}
    return names | {s.keystone.name for s in services if s.keystone is not None}


def _run_checks(auth: dict[str, str], services: Sequence[ServiceDef]) -> list[Probe]:
    # openstack.connect takes its cloud settings as keyword arguments it does not type.
    connect: Any = openstack.connect
    conn: Any = connect(**auth)
    probes = [_probe("token", lambda: f"issued ({len(conn.authorize())} bytes)")]
    if not probes[0].ok:
        return probes
    wanted = registered(services)

    def catalog() -> str:
        names = sorted(s.name for s in conn.identity.services())
        missing = wanted - set(names)
        if missing:
            raise RuntimeError(f"catalog lacks {', '.join(sorted(missing))}")
        return ", ".join(names)

    probes.append(_probe("catalog", catalog))
    declared = {s.probe for s in services}
    for kind, (name, action) in _PROBES.items():
        if kind in declared:
            probes.append(_probe(name, functools.partial(action, conn)))
    return probes


def _compute(conn: Any, wait: float = COMPUTE_WAIT) -> str:
    # A nova service just (re)started is "down" until its first report (report_interval
    # 10 s after it has started), so a check right after a deploy waits a little.
    deadline = time.monotonic() + wait
    while True:
        services = list(conn.compute.services())
        down = [f"{s.binary}@{s.host}" for s in services if s.state != "up"]
        missing = {"nova-conductor", "nova-scheduler", "nova-compute"} - {
            s.binary for s in services
        }
        hypervisors = [h for h in conn.compute.hypervisors(details=True) if h.state == "up"]
        problems = []
        if missing:
            problems.append(f"missing {', '.join(sorted(missing))}")
        if down:
            problems.append(f"down: {', '.join(down)}")
        if not hypervisors:
            problems.append("no hypervisor is up")
        if not problems:
            names = ", ".join(sorted(h.name for h in hypervisors))
            return f"{len(services)} services up; hypervisors up: {names}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"{'; '.join(problems)} (after {wait:.0f} s)")
        time.sleep(5)


def _network(conn: Any) -> str:
    agents = list(conn.network.agents())
    dead = [f"{a.agent_type}@{a.host}" for a in agents if not a.is_alive]
    if not agents or dead:
        raise RuntimeError(f"dead: {', '.join(dead)}" if dead else "no agent registered")
    kinds = ", ".join(sorted({a.agent_type for a in agents}))
    return f"{len(agents)} agents alive ({kinds})"


def _dashboard(base: str, cafile: str | None = None) -> str:
    url = base.rstrip("/") + "/auth/login/"
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    with urllib.request.urlopen(url, timeout=30, context=context) as response:
        body = response.read().decode("utf-8", "replace")
    if "csrfmiddlewaretoken" not in body:
        raise RuntimeError(f"GET {url}: no login form in the page")
    return f"GET {url}: login form served"


def _image_round_trip(conn: Any) -> str:
    data = os.urandom(IMAGE_BYTES)
    name = f"colla-check-{data[:4].hex()}"
    image = conn.image.create_image(
        name=name, data=data, disk_format="raw", container_format="bare", allow_duplicates=True
    )
    try:
        image = conn.image.wait_for_status(image, status="active", wait=120)
        got = conn.image.download_image(image)
        body = got.content if hasattr(got, "content") else got
        sent, back = hashlib.sha256(data).hexdigest(), hashlib.sha256(body).hexdigest()
        if sent != back:
            raise RuntimeError(f"checksum mismatch: sent {sent[:12]}, got {back[:12]}")
        return f"1 MiB image active, sha256 {sent[:12]} equal both ways"
    finally:
        conn.image.delete_image(image, ignore_missing=True)


def _placement(conn: Any) -> str:
    providers = list(conn.placement.resource_providers())
    # Resource classes arrived in placement microversion 1.2.
    classes = conn.session.get(
        "/resource_classes",
        endpoint_filter={"service_type": "placement", "interface": "internal"},
        headers={"OpenStack-API-Version": "placement 1.2"},
        raise_exc=True,
    ).json()["resource_classes"]
    return f"{len(providers)} resource providers, {len(classes)} resource classes"


# Each API probe a service can declare (``probe:``), in the order `colla check` runs them.
_PROBES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "image_round_trip": ("image upload/download", _image_round_trip),
    "placement": ("placement", _placement),
    "compute": ("compute services", _compute),
    "network_agents": ("network agents", _network),
}


def functional_check(auth: dict[str, str], service: ServiceDef) -> str:
    """A real request to the service's API as the admin; CollaError when it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            connect: Any = openstack.connect
            conn: Any = connect(**auth)
            if service.provides == "identity":
                return f"token issued ({len(conn.authorize())} bytes)"
            if service.keystone is None:
                return "no API"
            response = conn.session.get(
                service.keystone.check_path,
                endpoint_filter={"service_type": service.keystone.type, "interface": "internal"},
                raise_exc=False,
            )
        except Exception as e:
            raise CollaError(
                f"{service.name}: functional check failed: {e}".splitlines()[0]
            ) from None
    what = f"GET {service.keystone.check_path}: HTTP {response.status_code}"
    if response.status_code >= 400:
        raise CollaError(f"{service.name}: functional check failed: {what}")
    return what
