"""Docker Compose files per node, generated from the same specs ``colla deploy`` runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import yaml

from colla.errors import BadInput
from colla.export.output import OutFile
from colla.model.privileges import Privileges
from colla.model.services import ServiceCatalog
from colla.model.specs import CONFIG_MOUNT, LABEL_TASK, ContainerSpec, NodeSpecs, TaskSpec

DATA_CONTAINER = "colla_data"
HEALTHY = {"condition": "service_healthy"}
COMPLETED = {"condition": "service_completed_successfully"}


def _config_path(name: str) -> str:
    return f"./config/{name}"


def _healthcheck(spec: ContainerSpec) -> dict[str, Any] | None:
    h = spec.healthcheck
    if h is None:
        return None
    return {
        "test": ["CMD-SHELL", h.test],
        "interval": f"{h.interval}s",
        "timeout": f"{h.timeout}s",
        "retries": h.retries,
        "start_period": f"{h.start_period}s",
    }


def _privileges(p: Privileges) -> dict[str, Any]:
    """The one mapping of :class:`Privileges` to a Compose service's keys."""
    found: dict[str, Any] = {
        "cap_add": list(p.cap_add),
        "cap_drop": list(p.cap_drop),
        "security_opt": list(p.security_opt),
        "devices": [f"{d}:{d}:rwm" for d in p.devices],
        "pid": p.pid_mode,
        "ipc": p.ipc_mode,
        "init": p.init or None,
    }
    return {k: v for k, v in found.items() if v}


def _depends(
    service: str,
    node: NodeSpecs,
    catalog: ServiceCatalog,
    tasks_here: Mapping[str, tuple[TaskSpec, ...]],
) -> dict[str, Any]:
    """Healthy dependencies' containers on this node, then this service's last task."""
    depends: dict[str, Any] = {}
    for dep in catalog[service].depends_on:
        for container in node.containers:
            if container.service == dep:
                depends[container.name] = HEALTHY
    steps = tasks_here.get(service, ())
    if steps:
        depends[f"task-{steps[-1].name}"] = COMPLETED
    return depends


def node_compose(
    node: NodeSpecs, catalog: ServiceCatalog, data_containers: bool = False
) -> tuple[dict[str, Any], dict[str, OutFile]]:
    """The compose document of one node and the config files it mounts."""
    services: dict[str, Any] = {}
    files: dict[str, OutFile] = {}
    volumes: dict[str, str] = {}
    for spec in node.containers:
        local = replace(spec, config_dir=_config_path(spec.name))
        mounts = [f"{vol}:{path}" for vol, path in spec.volumes]
        volumes.update(spec.volumes)
        entry: dict[str, Any] = {
            "container_name": spec.name,
            "image": spec.image_id,
            "network_mode": "host",
            "restart": spec.restart,
            "labels": local.labels(),
            "volumes": [
                *([] if data_containers else mounts),
                f"{local.config_dir}:{CONFIG_MOUNT}:ro",
            ],
            "healthcheck": _healthcheck(spec),
            "logging": {
                "driver": "json-file",
                "options": {"max-size": spec.log.max_size, "max-file": str(spec.log.max_file)},
            },
            **_privileges(spec.privileges),
        }
        if spec.environment:
            entry["environment"] = dict(spec.environment)
        depends = _depends(spec.service, node, catalog, node.tasks)
        if data_containers and spec.volumes:
            entry["volumes_from"] = [DATA_CONTAINER]
        if depends:
            entry["depends_on"] = depends
        services[spec.name] = {k: v for k, v in entry.items() if v is not None}
        files.update(_files(spec.name, spec))
    for service, steps in node.tasks.items():
        previous: str | None = None
        for task in steps:
            mounts = [f"{vol}:{path}" for vol, path in task.volumes]
            volumes.update(task.volumes)
            depends = {} if previous else _depends(service, node, catalog, {})
            if previous:
                depends[previous] = COMPLETED
            entry = {
                "container_name": f"colla-task-{task.name}",
                "image": task.image_id,
                "network_mode": "host",
                "restart": "no",
                "labels": {LABEL_TASK: task.name},
                "volumes": [
                    *([] if data_containers else mounts),
                    f"{_config_path(task.name)}:{CONFIG_MOUNT}:ro",
                ],
            }
            if data_containers and task.volumes:
                entry["volumes_from"] = [DATA_CONTAINER]
            if depends:
                entry["depends_on"] = depends
            previous = f"task-{task.name}"
            services[previous] = entry
            files.update(_files(task.name, task))
    document: dict[str, Any] = {"services": services}
    if data_containers:
        if volumes:
            services[DATA_CONTAINER] = _data_container(node, volumes)
    elif volumes:
        document["volumes"] = {v: {"name": v} for v in sorted(volumes)}
    return document, files


def _data_container(node: NodeSpecs, volumes: Mapping[str, str]) -> dict[str, Any]:
    paths: dict[str, str] = {}
    for volume, path in sorted(volumes.items()):
        if path in paths and paths[path] != volume:
            raise BadInput(
                f"node {node.node}: volumes {paths[path]} and {volume} share {path}; "
                "--data-containers cannot hold both"
            )
        paths[path] = volume
    # The old style: one container owns the data (as anonymous volumes) and the services
    # mount all of it with volumes_from.
    return {
        "container_name": f"{DATA_CONTAINER}_{node.node}",
        "image": node.containers[0].image_id,
        "command": ["true"],
        "restart": "no",
        "network_mode": "none",
        "volumes": sorted(paths),
    }


def _files(name: str, spec: TaskSpec) -> dict[str, OutFile]:
    return {f"config/{name}/{f.name}": OutFile(f.content.encode(), 0o660) for f in spec.files}


def compose_tree(
    nodes: Mapping[str, NodeSpecs],
    catalog: ServiceCatalog,
    only: str | None = None,
    data_containers: bool = False,
) -> dict[str, OutFile]:
    """Every node's ``<node>/docker-compose.yml`` and config files, as one tree."""
    if only is not None and only not in nodes:
        raise BadInput(f"--node {only}: no such node in the inventory ({', '.join(sorted(nodes))})")
    tree: dict[str, OutFile] = {}
    for name in sorted(nodes):
        if only is not None and name != only:
            continue
        document, files = node_compose(nodes[name], catalog, data_containers)
        if not document["services"]:
            continue
        text = "# Generated by colla from the same specs as `colla deploy`. Do not edit.\n"
        text += yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=1000)
        tree[f"{name}/docker-compose.yml"] = OutFile(text.encode(), 0o640)
        tree.update({f"{name}/{path}": item for path, item in files.items()})
    return tree
