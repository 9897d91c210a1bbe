"""``colla audit``: what each container is granted beyond Docker's defaults, and why.

The declared side comes from the catalog (through the desired specs); the running side
from the engine's host config, so a container created by hand or by an older colla
shows up as a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from colla.deploy.specs import ContainerSpec, NodeSpecs
from colla.engine import Grants

# Every colla container shares its host's network namespace (the Kolla design): the
# services bind the host's addresses and the agents manage the host's interfaces.
HOST_NETWORK = "network host"
HOST_NETWORK_REASON = "every colla container uses the host's network (services bind host addresses)"


@dataclass(frozen=True)
class AuditRow:
    """One container: its declared grants, why, and whether the running one matches."""

    node: str
    container: str
    service: str
    granted: tuple[str, ...]
    reason: str
    running: str
    ok: bool


def declared(spec: ContainerSpec) -> tuple[str, ...]:
    """The grants a spec asks for, in words."""
    return (HOST_NETWORK, *spec.privileges.granted())


def observed(grants: Grants) -> tuple[str, ...]:
    """The grants a container has, in the same words as :func:`declared`."""
    words = [f"network {grants.network_mode}"] if grants.network_mode != "default" else []
    if grants.privileged:
        words.append("privileged")
    words += [f"cap_add {c}" for c in grants.cap_add]
    options = set(grants.security_opt)
    if grants.unmasked_paths:
        options.add("systempaths=unconfined")
    words += [f"security_opt {o}" for o in sorted(options)]
    words += [f"device {d}" for d in grants.devices]
    words += [
        f"{k} host" for k, v in (("pid", grants.pid_mode), ("ipc", grants.ipc_mode)) if v == "host"
    ]
    return tuple(words)


def audit(
    nodes: Mapping[str, NodeSpecs], running: Mapping[tuple[str, str], Grants | None]
) -> list[AuditRow]:
    """Compare each desired container with what runs; ``running`` is keyed by (node, name)."""
    rows = []
    for node in sorted(nodes):
        for spec in nodes[node].containers:
            want = declared(spec)
            reason = spec.privileges.reason or (
                HOST_NETWORK_REASON if want == (HOST_NETWORK,) else ""
            )
            grants = running.get((node, spec.name))
            if grants is None:
                state, ok = "not created", True
            else:
                have = observed(grants)
                extra = sorted(set(have) - set(want))
                missing = sorted(set(want) - set(have))
                if extra or missing:
                    parts = [f"+{w}" for w in extra] + [f"-{w}" for w in missing]
                    state, ok = f"differs: {', '.join(parts)}", False
                else:
                    state, ok = "as declared", True
            rows.append(AuditRow(node, spec.name, spec.service, want, reason, state, ok))
    return rows
