"""``colla audit``: what each container is granted beyond Docker's defaults, why, whether
the running one has exactly that, and which grants amount to root on the host.

The declared side comes from the catalog (through the desired specs); the running side
from the engine's inspect data (:class:`colla.engine.Grants`), so a container created by
hand or by an older colla shows up as a difference, and a colla container the desired
state does not name (a leftover ``-colla-next``, a disabled service's, a task that never
finished) shows up as a stray. Pure: specs and inspect facts in, rows out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from colla.deploy.desired import CONFIG_MOUNT
from colla.engine import Grants
from colla.model.specs import ContainerSpec, NodeSpecs

# Every colla container shares its host's network namespace (the Kolla design): the
# services bind the host's addresses and the agents manage the host's interfaces.
HOST_NETWORK = "network host"
HOST_NETWORK_REASON = "every colla container uses the host's network (services bind host addresses)"
STRAY = "stray: not in the desired state"

# Binds that hand the container the host: its root, or the engine that starts containers.
_HOST_ROOTS = {"/", "/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"}
# Writable binds of these (or below them) let a container change what the host runs.
_HOST_SYSTEM = (
    *("/etc", "/root", "/boot", "/usr", "/lib", "/bin", "/sbin"),
    *("/dev", "/proc", "/sys", "/var/lib/docker"),
)
_RAW_DEVICES = ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/sd", "/dev/nvme", "/dev/vd")
_ROOT_USERS = {"", "root", "0", "0:0", "root:root"}


@dataclass(frozen=True)
class Inspected:
    """What the engines said: each desired container's grants by (node, name) (None:
    there is none), every other colla container by (node, name) with its service, and
    each node's default cgroup namespace (the host's on cgroup v1)."""

    grants: Mapping[tuple[str, str], Grants | None]
    strays: Mapping[tuple[str, str], tuple[str, Grants]] = field(default_factory=dict)
    cgroupns_default: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """One container: its declared grants, why, whether the running one matches, and
    the grants (running, or declared when none runs) that amount to root on the host."""

    node: str
    container: str
    service: str
    granted: tuple[str, ...]
    reason: str
    running: str
    ok: bool
    root_on_host: tuple[str, ...] = ()


def declared(spec: ContainerSpec) -> tuple[str, ...]:
    """The grants a spec asks for, in words."""
    return (HOST_NETWORK, *spec.privileges.granted())


def _setup(spec: ContainerSpec) -> tuple[str, ...]:
    """What else the spec creates the container with: compared, shown only when it
    differs (the config bind and data volumes are every container's)."""
    words = [f"bind {spec.config_dir}:{CONFIG_MOUNT}:ro"]
    words += [f"volume {name}:{path}" for name, path in spec.volumes]
    if spec.image_id:
        words.append(f"image {spec.image_id}")
    return tuple(words)


def _mode(kind: str, mode: str, default: str = "") -> list[str]:
    """A namespace shared with the host or another container, in words."""
    if mode == "host" and default != "host":
        return [f"{kind} host"]
    return [f"{kind} {mode}"] if mode.startswith("container:") else []


def observed(grants: Grants, cgroupns_default: str = "private") -> tuple[str, ...]:
    """The grants a container has, in the same words as :func:`declared`."""
    return (
        *_engine_wide(grants),
        *grants.privileges.granted(),
        *_beyond_privileges(grants, cgroupns_default),
    )


def _engine_wide(grants: Grants) -> list[str]:
    words = [f"network {grants.network_mode}"] if grants.network_mode != "default" else []
    return [*words, "privileged"] if grants.privileged else words


def _beyond_privileges(grants: Grants, cgroupns_default: str) -> list[str]:
    """The grants no catalog declares: other namespaces, sysctls, users, host binds."""
    words = _mode("uts", grants.uts_mode) + _mode("userns", grants.userns_mode)
    # Docker's default is the host's cgroup namespace on cgroup v1: not colla's grant.
    words += _mode("cgroupns", grants.cgroupns_mode, cgroupns_default)
    words += [f"sysctl {s}" for s in grants.sysctls]
    words += [f"device_cgroup_rule {r}" for r in grants.device_cgroup_rules]
    if grants.user not in _ROOT_USERS:
        words.append(f"user {grants.user}")
    words += [f"bind {b}" for b in grants.binds if not _is_config_bind(b)]
    return words


def _observed_setup(grants: Grants) -> tuple[str, ...]:
    words = [f"bind {b}" for b in grants.binds if _is_config_bind(b)]
    words += [f"volume {v}" for v in grants.volumes]
    if grants.image_id:
        words.append(f"image {grants.image_id}")
    return tuple(words)


def _is_config_bind(bind: str) -> bool:
    # colla's own read-only config directory: compared as setup, not listed as a grant.
    return bind.endswith(f":{CONFIG_MOUNT}:ro")


def root_on_host(words: tuple[str, ...]) -> tuple[str, ...]:
    """Which of these grants let the container take over its host, each with how."""
    have = set(words)
    caps = {w.removeprefix("cap_add ") for w in have if w.startswith("cap_add ")}
    found = []
    if "privileged" in have:
        found.append("privileged: every capability and device, no confinement")
    unconfined = {"security_opt apparmor=unconfined", "security_opt systempaths=unconfined"}
    if "SYS_ADMIN" in caps and have & unconfined:
        found.append(
            "SYS_ADMIN without AppArmor: mounts, and a writable /proc/sys "
            "(kernel.core_pattern runs a command as root on the host)"
        )
    if "DAC_READ_SEARCH" in caps:
        found.append(
            "DAC_READ_SEARCH: open_by_handle_at opens any host file by handle "
            "(and writes it, with Docker's default DAC_OVERRIDE)"
        )
    if "SYS_PTRACE" in caps and "pid host" in have:
        found.append("SYS_PTRACE with the host's PIDs: can take over any host process")
    if "SYS_MODULE" in caps:
        found.append("SYS_MODULE: loads kernel code")
    if "SYS_RAWIO" in caps:
        found.append("SYS_RAWIO: raw access to memory and disks")
    for word in sorted(have):
        if word.startswith("bind "):
            source, _, rest = word.removeprefix("bind ").partition(":")
            if source in _HOST_ROOTS:
                found.append(f"bind of the host's {source}")
            elif rest.endswith(":rw") and _under(source, _HOST_SYSTEM):
                found.append(f"writable bind of the host's {source}")
        elif word.startswith("device ") and word.removeprefix("device ").startswith(_RAW_DEVICES):
            found.append(f"raw {word}")
    return tuple(found)


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def _compare(spec: ContainerSpec, grants: Grants, cgroupns_default: str) -> str:
    # The privileges are compared as one model on both sides (cap_drop and init
    # included, which the grants shown leave out); the rest is what only inspect shows.
    want = {HOST_NETWORK, *_setup(spec)} | spec.privileges.words()
    have = {*_engine_wide(grants), *_beyond_privileges(grants, cgroupns_default)}
    have |= {*_observed_setup(grants)} | grants.privileges.words()
    parts = [f"+{w}" for w in sorted(have - want)] + [f"-{w}" for w in sorted(want - have)]
    return f"differs: {', '.join(parts)}" if parts else ""


def audit(nodes: Mapping[str, NodeSpecs], inspected: Inspected) -> list[AuditRow]:
    """Compare each desired container with what runs, then list the strays."""
    rows = []
    for node in sorted(nodes):
        default = inspected.cgroupns_default.get(node, "private")
        for spec in nodes[node].containers:
            want = declared(spec)
            reason = spec.privileges.reason or (
                HOST_NETWORK_REASON if want == (HOST_NETWORK,) else ""
            )
            grants = inspected.grants.get((node, spec.name))
            if grants is None:
                state, root = "not created", root_on_host(want)
            else:
                state = _compare(spec, grants, default) or "as declared"
                root = root_on_host(observed(grants, default))
            ok = not state.startswith("differs")
            rows.append(AuditRow(node, spec.name, spec.service, want, reason, state, ok, root))
    for (node, name), (service, grants) in sorted(inspected.strays.items()):
        have = observed(grants, inspected.cgroupns_default.get(node, "private"))
        rows.append(AuditRow(node, name, service, have, "", STRAY, False, root_on_host(have)))
    return rows
