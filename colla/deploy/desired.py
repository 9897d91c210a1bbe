"""Project x service catalog → the specs of every node (pure: no engine, no files).

The containers and the order of each service's bootstrap are here; rendering is
colla.deploy.templates', the tasks the infrastructure runs for a service (databases,
registration, backups, migrations) colla.deploy.infra's."""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping
from dataclasses import replace

from colla.deploy.infra import setup_tasks
from colla.deploy.taskspecs import catalog_task, config_json, image_ref, volumes
from colla.deploy.templates import REGION as REGION
from colla.deploy.templates import ServiceRenderer
from colla.deploy.waits import Reach, with_waits
from colla.errors import BadInput
from colla.model.catalog import ContainerDef
from colla.model.services import ServiceCatalog
from colla.model.specs import CONFIG_MOUNT as CONFIG_MOUNT  # audit reads it from here
from colla.model.specs import (
    ContainerSpec,
    Healthcheck,
    LogLimits,
    NodeSpecs,
    Reload,
    TaskSpec,
)
from colla.model.topology import Topology as Topology
from colla.project import Project


def _container(
    r: ServiceRenderer, project: Project, node: str, item: ContainerDef
) -> ContainerSpec:
    files, secrets = r.files(item.config, node, item)
    command = r.text(item.command, node, f"{item.name} command", item.name)
    files.append(config_json(command, files, item.permissions, item.user))
    health = item.healthcheck
    ref = image_ref(project, item.image, r.tag)
    return ContainerSpec(
        name=item.name,
        service=r.service.name,
        node=node,
        image=ref,
        image_id="",
        config_dir=str(project.config_dir / item.name),
        files=tuple(files),
        volumes=volumes(project, item.volumes),
        environment=tuple(
            sorted(
                (k, r.text(v, node, f"{item.name} environment {k}", item.name))
                for k, v in item.environment.items()
            )
        ),
        healthcheck=Healthcheck(
            test=r.text(health.test, node, f"{item.name} healthcheck", item.name),
            interval=health.interval,
            timeout=health.timeout,
            retries=health.retries,
            start_period=health.start_period,
        ),
        privileges=item.privileges.to_privileges(),
        ports=((r.ports[item.name],) if item.name in r.ports else ()) + item.ports,
        log=LogLimits(project.globals.docker_log_max_size, project.globals.docker_log_max_file),
        secrets=secrets,
        reload=_reload(r, node, item),
    )


def _reload(r: ServiceRenderer, node: str, item: ContainerDef) -> Reload | None:
    if item.reload is None:
        return None

    def argv(text: str | None, what: str) -> tuple[str, ...]:
        if text is None:
            return ()
        return tuple(shlex.split(r.text(text, node, f"{item.name} reload {what}", item.name)))

    return Reload(
        item.reload.signal,
        argv(item.reload.command, "command"),
        argv(item.reload.check, "check"),
        item.reload.files,
    )


def enabled_services(project: Project, catalog: ServiceCatalog) -> set[str]:
    """The services the globals enable."""
    return {name for name in catalog.services if project.globals.enabled.get(name, False)}


def desired_state(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    tags: Mapping[str, str] | None = None,
    alt: set[str] | None = None,
    node_tags: Mapping[tuple[str, str], str] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, NodeSpecs]:
    """Every node's containers and bootstrap tasks (image IDs not yet resolved); with
    ``only``, those of these services alone (an upgrade renders the one it upgrades),
    each exactly as a whole rendering would make it.

    ``tags`` gives a service an image tag other than the globals' (an upgrade's, or the
    one history pins after an upgrade or a rollback); ``node_tags`` does so for one
    (node, service), which wins: an upgrade limited to some nodes pins only those.
    """
    tags = tags or {}
    alt = alt or set()
    node_tags = node_tags or {}
    containers: dict[str, list[ContainerSpec]] = {n: [] for n in project.inventory.hosts}
    tasks: dict[str, dict[str, tuple[TaskSpec, ...]]] = {n: {} for n in project.inventory.hosts}
    post: dict[str, dict[str, tuple[TaskSpec, ...]]] = {n: {} for n in project.inventory.hosts}
    early: dict[str, dict[str, int]] = {n: {} for n in project.inventory.hosts}
    enabled = enabled_services(project, catalog)
    for name in sorted(enabled):
        if only is not None and name not in only:
            continue
        service = catalog[name]
        hosts = service.hosts(project.inventory)
        if not hosts:
            raise BadInput(
                f"inventory: no host in group(s) {', '.join(service.groups)} for service {name}"
            )
        renderer = ServiceRenderer(project, catalog, topology, service, tags.get(name), name in alt)
        renderers = {tags.get(name): renderer}
        for host in hosts:
            tag = node_tags.get((host.name, name), tags.get(name))
            if tag not in renderers:
                renderers[tag] = ServiceRenderer(
                    project, catalog, topology, service, tag, name in alt
                )
            for item in service.containers:
                containers[host.name].append(_container(renderers[tag], project, host.name, item))
        # Bootstrap runs once per cloud, on the service's first host.
        first = service.first_host(project.inventory).name
        databases, register = setup_tasks(project, catalog, topology, service, first, tags)
        own = [catalog_task(renderer, project, first, item) for item in service.bootstrap]
        # The early steps run once their databases exist, before the registration
        # (which needs the identity service) and the other steps.
        count = len(service.early_steps)
        tasks[first][name] = (*databases, *own[:count], *register, *own[count:])
        if count:
            early[first][name] = len(databases) + count
        if service.post_start:
            post[first][name] = tuple(
                catalog_task(renderer, project, first, i) for i in service.post_start
            )
    reach = Reach(
        topology.api_address,
        topology.internal_address,
        project.globals.enabled.get("haproxy", False),
    )
    placement = {n: [h.name for h in catalog[n].hosts(project.inventory)] for n in enabled}
    containers = with_waits(containers, catalog, reach, placement)
    return {
        node: NodeSpecs(
            node,
            tuple(sorted(containers[node], key=lambda c: c.name)),
            tasks[node],
            post[node],
            early[node],
        )
        for node in project.inventory.hosts
    }


def resolve_images(
    nodes: dict[str, NodeSpecs], image_ids: Mapping[str, str]
) -> dict[str, NodeSpecs]:
    """Pin every spec to the image ID its reference points at now."""
    return {
        node: NodeSpecs(
            node,
            tuple(replace(c, image_id=image_ids[c.image]) for c in specs.containers),
            {
                svc: tuple(replace(t, image_id=image_ids[t.image]) for t in steps)
                for svc, steps in specs.tasks.items()
            },
            {
                svc: tuple(replace(t, image_id=image_ids[t.image]) for t in steps)
                for svc, steps in specs.post.items()
            },
            specs.early,
        )
        for node, specs in nodes.items()
    }


def image_refs(nodes: Mapping[str, NodeSpecs]) -> set[str]:
    """Every image the specs need."""
    refs: set[str] = set()
    for specs in nodes.values():
        refs.update(s.image for s in specs.with_config())
    return refs
