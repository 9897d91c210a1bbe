"""Kubernetes manifests from the same specs ``colla deploy`` runs, with a kustomization.

colla's model is kept: host networking, the inventory's addresses, one pod per container
spec. Groups of the inventory become node labels ``colla.io/<group>=true``; a Deployment
or StatefulSet, whose config holds its host's addresses, is pinned to the node labelled
``colla.io/host=<inventory name>``. A Job's name follows its spec (a Job's pod template
cannot change, so a new tag must make a new Job), no pod mounts a service-account token
(nothing in them talks to the Kubernetes API), every container requests what its catalog
entry says, and each Deployment and StatefulSet has a PodDisruptionBudget.
Logs need nothing here: the kubelet rotates container logs itself
(containerLogMaxSize, containerLogMaxFiles), so docker_log_max_* has no counterpart.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from colla.errors import BadInput
from colla.export.k8s_node import fill_in, is_template, node_templates
from colla.export.k8s_pod import (
    claim,
    k8s_name,
    on_hosts,
    placement,
    pod_privileges,
    probe,
    requests_of,
    task_digest,
)
from colla.export.output import OutFile
from colla.model.catalog import ContainerDef, RequestsDef
from colla.model.services import ServiceCatalog
from colla.model.specs import CONFIG_MOUNT, ContainerSpec, NodeSpecs, RenderedFile, TaskSpec
from colla.model.topology import Topology

NAMESPACE = "colla"
LABEL_APP = "app.kubernetes.io/name"
LABEL_PART = "app.kubernetes.io/part-of"
ANNOTATION_HASH = "colla.io/config-hash"
ANNOTATION_IMAGE_ID = "colla.io/image-id"
LOGS_VOLUME = "colla_logs"
LABEL_HOST = "colla.io/host"
PINNED = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Manifests:
    """The objects of one export, by file name, plus the secret values they hold."""

    objects: dict[str, dict[str, Any]]


def _holds_secret(file: RenderedFile, secrets: list[str]) -> bool:
    return any(secret in file.content for secret in secrets)


def _config_objects(
    name: str, files: tuple[RenderedFile, ...], secrets: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A ConfigMap and a Secret for one container's files, and the volume joining them."""
    plain = {f.name: f.content for f in files if not _holds_secret(f, secrets)}
    secret = {
        f.name: base64.b64encode(f.content.encode()).decode()
        for f in files
        if _holds_secret(f, secrets)
    }
    objects: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    if plain:
        objects.append(_object("v1", "ConfigMap", f"{name}-config", {"data": plain}))
        sources.append({"configMap": {"name": f"{name}-config"}})
    if secret:
        objects.append(
            _object("v1", "Secret", f"{name}-secret", {"type": "Opaque", "data": secret})
        )
        sources.append({"secret": {"name": f"{name}-secret"}})
    volume = {"name": "colla-config", "projected": {"sources": sources, "defaultMode": 0o440}}
    return objects, volume


def _object(api: str, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {LABEL_PART: "colla"}},
        **body,
    }


class _Generator:
    def __init__(
        self,
        nodes: Mapping[str, NodeSpecs],
        catalog: ServiceCatalog,
        topology: Topology,
        secrets: list[str],
    ) -> None:
        self.nodes = nodes
        self.catalog = catalog
        self.topology = topology
        self.secrets = secrets
        self.objects: dict[str, dict[str, Any]] = {}

    def add(self, service: str, obj: dict[str, Any]) -> None:
        self.objects[f"{service}/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"] = obj

    def waits(self, service: str) -> list[dict[str, Any]]:
        """Init containers that wait for the ports of the services this one needs."""
        waits = []
        for dep in self.catalog[service].depends_on:
            for node in self.nodes.values():
                for spec in node.containers:
                    if spec.service == dep and spec.ports:
                        target = f"{self.topology.api_address[spec.node]}:{spec.ports[0]}"
                        waits.append(
                            {
                                "name": f"wait-for-{k8s_name(spec.name)}",
                                "image": spec.image,
                                "command": ["colla-start", "wait-for", "tcp", target],
                            }
                        )
        return waits

    def container(
        self, spec: ContainerSpec, definition: ContainerDef, part: tuple[str, ...] = ()
    ) -> None:
        """One workload; ``part``: its name, then the nodes it serves, for one part of a
        DaemonSet split by role (the others serve the other nodes)."""
        kind = definition.kubernetes
        name = k8s_name(part[0] if part else spec.name)
        hosts = part[1:]
        config, config_volume = _config_objects(name, spec.files, self.secrets)
        for obj in config:
            self.add(spec.service, obj)
        mounts = [{"name": "colla-config", "mountPath": CONFIG_MOUNT, "readOnly": True}]
        volumes: list[dict[str, Any]] = [config_volume]
        first: list[dict[str, Any]] = []
        if is_template(spec):
            # The node's own config is written from the template when the pod starts; in
            # memory, since it may hold passwords.
            volumes = [
                {**config_volume, "name": "colla-config-template"},
                {"name": "colla-config", "emptyDir": {"medium": "Memory"}},
            ]
            first = [fill_in(spec.image)]
        claims: list[dict[str, Any]] = []
        for volume, path in spec.volumes:
            vname = k8s_name(volume)
            mounts.append({"name": vname, "mountPath": path})
            # The name may carry the deployment's colla_volume_prefix.
            if volume.endswith(LOGS_VOLUME):
                volumes.append({"name": vname, "emptyDir": {}})
            elif kind == "StatefulSet":
                claims.append(claim(vname))
            elif kind == "DaemonSet":
                # A node-level agent keeps its state on its node, as on Docker.
                volumes.append(
                    {
                        "name": vname,
                        "hostPath": {
                            "path": f"/var/lib/colla/{volume}",
                            "type": "DirectoryOrCreate",
                        },
                    }
                )
            else:
                self.add(
                    spec.service,
                    _object(
                        "v1",
                        "PersistentVolumeClaim",
                        f"{name}-{vname}",
                        claim(vname)["spec"] and {"spec": claim(vname)["spec"]},
                    ),
                )
                volumes.append(
                    {"name": vname, "persistentVolumeClaim": {"claimName": f"{name}-{vname}"}}
                )
        granted = pod_privileges(spec.name, spec.privileges)
        mounts += granted.mounts
        volumes += granted.volumes
        main: dict[str, Any] = {
            "name": name,
            "image": spec.image,
            "env": [{"name": k, "value": v} for k, v in spec.environment],
            "ports": [{"containerPort": p, "name": f"p{p}"} for p in spec.ports],
            "volumeMounts": mounts,
            "securityContext": granted.security,
            "resources": requests_of(definition.requests),
        }
        readiness = probe(spec, 0)
        liveness = probe(spec, spec.healthcheck.start_period if spec.healthcheck else 0)
        if readiness:
            main["readinessProbe"] = readiness
            main["livenessProbe"] = liveness
        # Its config holds its host's addresses (colla's host-network model): a
        # Deployment or StatefulSet runs on that host, a DaemonSet on its group's nodes.
        where = (
            {"nodeSelector": {LABEL_HOST: spec.node}}
            if kind in PINNED
            else on_hosts(LABEL_HOST, hosts)
            if hosts
            else placement(self.catalog[spec.service].groups)
        )
        pod: dict[str, Any] = {
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "automountServiceAccountToken": False,
            **where,
            "containers": [{k: v for k, v in main.items() if v != []}],
            "volumes": volumes,
            **granted.host_namespaces,
        }
        waits = first + self.waits(spec.service)
        if waits:
            pod["initContainers"] = waits
        labels = {LABEL_APP: name, LABEL_PART: "colla"}
        template = {
            "metadata": {
                "labels": labels,
                "annotations": {
                    ANNOTATION_HASH: spec.spec_hash,
                    ANNOTATION_IMAGE_ID: spec.image_id,
                },
            },
            "spec": pod,
        }
        body: dict[str, Any] = {
            "selector": {"matchLabels": {LABEL_APP: name}},
            "template": template,
        }
        if kind == "Deployment":
            body["replicas"] = 1
            # One replica holds the host's ports: the old pod must go before the new starts.
            body["strategy"] = {"type": "Recreate"}
        elif kind == "StatefulSet":
            body["replicas"] = 1
            body["serviceName"] = name
            if claims:
                body["volumeClaimTemplates"] = claims
        api = "apps/v1"
        self.add(spec.service, _object(api, str(kind), name, {"spec": body}))
        if kind in PINNED:
            # One replica today: the budget lets a drain evict it (a budget that forbade
            # that would block every drain) but never two pods of one service at once
            # once it has more.
            budget = {"maxUnavailable": 1, "selector": {"matchLabels": {LABEL_APP: name}}}
            self.add(
                spec.service, _object("policy/v1", "PodDisruptionBudget", name, {"spec": budget})
            )
        if spec.ports:
            self.add(
                spec.service,
                _object(
                    "v1",
                    "Service",
                    name,
                    {
                        "spec": {
                            "selector": {LABEL_APP: name},
                            "ports": [
                                {"name": f"p{p}", "port": p, "targetPort": p, "protocol": "TCP"}
                                for p in spec.ports
                            ],
                        }
                    },
                ),
            )

    def job(self, task: TaskSpec, after: list[dict[str, Any]]) -> None:
        name = f"colla-task-{k8s_name(task.name)}-{task_digest(task)}"
        config, config_volume = _config_objects(name, task.files, self.secrets)
        for obj in config:
            self.add(task.service, obj)
        mounts = [{"name": "colla-config", "mountPath": CONFIG_MOUNT, "readOnly": True}]
        volumes: list[dict[str, Any]] = [config_volume]
        for volume, path in task.volumes:
            vname = k8s_name(volume)
            owner = next(
                (
                    c
                    for node in self.nodes.values()
                    for c in node.containers
                    if c.service == task.service and volume in dict(c.volumes)
                ),
                None,
            )
            mounts.append({"name": vname, "mountPath": path})
            claim = f"{k8s_name(owner.name)}-{vname}" if owner else f"{name}-{vname}"
            volumes.append({"name": vname, "persistentVolumeClaim": {"claimName": claim}})
        pod: dict[str, Any] = {
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "restartPolicy": "OnFailure",
            "automountServiceAccountToken": False,
            "nodeSelector": {f"colla.io/{self.catalog[task.service].group}": "true"},
            "containers": [
                {
                    "name": k8s_name(task.name),
                    "image": task.image,
                    "volumeMounts": mounts,
                    "securityContext": {"privileged": False},
                    "resources": requests_of(RequestsDef()),
                }
            ],
            "volumes": volumes,
        }
        if after:
            pod["initContainers"] = after
        body = {
            "backoffLimit": 10,
            "template": {
                "metadata": {"annotations": {ANNOTATION_IMAGE_ID: task.image_id}},
                "spec": pod,
            },
        }
        self.add(task.service, _object("batch/v1", "Job", name, {"spec": body}))


def _definition(catalog: ServiceCatalog, spec: ContainerSpec) -> ContainerDef:
    definition: ContainerDef | None = next(
        (c for c in catalog[spec.service].containers if c.name == spec.name), None
    )
    if definition is None or definition.kubernetes is None:
        raise BadInput(
            f"service {spec.service}: container {spec.name} has no Kubernetes mapping "
            f"(set 'kubernetes:' in {catalog[spec.service].directory / 'service.yaml'})"
        )
    return definition


def manifests(
    nodes: Mapping[str, NodeSpecs],
    catalog: ServiceCatalog,
    topology: Topology,
    secrets: list[str],
) -> Manifests:
    """Every object, by file path; raises BadInput for a container with no mapping."""
    generator = _Generator(nodes, catalog, topology, secrets)
    everywhere: dict[str, list[ContainerSpec]] = {}
    for node in sorted(nodes):
        for spec in nodes[node].containers:
            everywhere.setdefault(spec.name, []).append(spec)
    done: set[str] = set()
    for node in sorted(nodes):
        for spec in nodes[node].containers:
            if spec.name in done:
                continue
            done.add(spec.name)
            definition = _definition(catalog, spec)
            specs = everywhere[spec.name]
            if definition.kubernetes == "DaemonSet":
                templates = node_templates(specs, topology)
                for index, (template, hosts) in enumerate(templates):
                    # The part serving most nodes keeps the container's name.
                    name = spec.name if index == 0 else f"{spec.name}-{hosts[0]}"
                    part = (name, *hosts) if len(templates) > 1 else ()
                    generator.container(template, definition, part)
                continue
            if len(specs) > 1:
                raise BadInput(
                    f"service {spec.service}: {spec.name} runs on several nodes; only a "
                    "DaemonSet maps that"
                )
            generator.container(spec, definition)
        for steps in nodes[node].tasks.values():
            for task in steps:
                generator.job(task, generator.waits(task.service))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    generator.objects["namespace.yaml"] = namespace
    return Manifests(generator.objects)


def k8s_tree(found: Manifests) -> dict[str, OutFile]:
    """The files: one object each, and a kustomization.yaml listing them."""
    tree: dict[str, OutFile] = {}
    header = "# Generated by colla from the same specs as `colla deploy`. Do not edit.\n"
    for path, obj in sorted(found.objects.items()):
        secret = obj["kind"] == "Secret"
        text = header + yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=1000)
        tree[path] = OutFile(text.encode(), 0o600 if secret else 0o644)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": sorted(found.objects),
    }
    tree["kustomization.yaml"] = OutFile(
        (header + yaml.safe_dump(kustomization, sort_keys=True)).encode(), 0o644
    )
    return tree
