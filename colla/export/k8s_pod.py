"""The pod-level pieces of colla's Kubernetes manifests: a container's privileges as a
securityContext and host namespaces, its placement on labelled nodes, its probe and its
volume claims."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from colla.errors import BadInput
from colla.model.catalog import RequestsDef
from colla.model.privileges import Privileges
from colla.model.specs import ContainerSpec, TaskSpec


def k8s_name(name: str) -> str:
    """A DNS-1123 name from a colla name (``glance_api`` → ``glance-api``)."""
    return name.replace("_", "-").lower()


@dataclass(frozen=True)
class PodPrivileges:
    """What a container's privileges become in a pod: its securityContext, the pod's
    host namespaces, and a hostPath volume with its mount per device."""

    security: dict[str, Any]
    host_namespaces: dict[str, bool]
    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]


def pod_privileges(name: str, p: Privileges) -> PodPrivileges:
    """The one mapping of :class:`Privileges` to Kubernetes (``init`` has none: the
    kubelet reaps nothing, so a container that needs an init brings its own)."""
    context: dict[str, Any] = {"privileged": False}
    capabilities: dict[str, Any] = {}
    if p.cap_add:
        capabilities["add"] = list(p.cap_add)
    if p.cap_drop:
        capabilities["drop"] = list(p.cap_drop)
    if capabilities:
        context["capabilities"] = capabilities
    for option in p.security_opt:
        if option == "seccomp=unconfined":
            context["seccompProfile"] = {"type": "Unconfined"}
        elif option == "apparmor=unconfined":
            context["appArmorProfile"] = {"type": "Unconfined"}
        else:
            raise BadInput(f"{name}: security option {option!r} has no Kubernetes mapping")
    shared = {"hostPID": p.pid_mode == "host", "hostIPC": p.ipc_mode == "host"}
    volumes, mounts = [], []
    for device in p.devices:
        dname = k8s_name(device.strip("/").replace("/", "-"))
        mounts.append({"name": dname, "mountPath": device})
        volumes.append({"name": dname, "hostPath": {"path": device, "type": "CharDevice"}})
    return PodPrivileges(context, {k: v for k, v in shared.items() if v}, volumes, mounts)


def placement(groups: tuple[str, ...]) -> dict[str, Any]:
    """Pods go to nodes labelled with the service's group (any of them, when several)."""
    if len(groups) == 1:
        return {"nodeSelector": {f"colla.io/{groups[0]}": "true"}}
    terms = [
        {"matchExpressions": [{"key": f"colla.io/{g}", "operator": "In", "values": ["true"]}]}
        for g in groups
    ]
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }
    }


def on_hosts(label: str, hosts: tuple[str, ...]) -> dict[str, Any]:
    """Pods go to the nodes labelled with one of these host names."""
    term = {"matchExpressions": [{"key": label, "operator": "In", "values": list(hosts)}]}
    required = {"nodeSelectorTerms": [term]}
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    }


def probe(spec: ContainerSpec, delay: int) -> dict[str, Any] | None:
    h = spec.healthcheck
    if h is None:
        return None
    return {
        "exec": {"command": ["/bin/sh", "-c", h.test]},
        "initialDelaySeconds": delay,
        "periodSeconds": h.interval,
        "timeoutSeconds": h.timeout,
        "failureThreshold": h.retries,
    }


def claim(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    }


def requests_of(requests: RequestsDef) -> dict[str, Any]:
    """A container's ``resources``: what its catalog entry asks Kubernetes to reserve."""
    return {"requests": {"cpu": requests.cpu, "memory": requests.memory}}


def task_digest(task: TaskSpec) -> str:
    """Eight hex digits that change with everything a task's pod template holds."""
    parts = [task.image, task.image_id, sorted(task.volumes)]
    parts += sorted([f.name, f.content] for f in task.files)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:8]
