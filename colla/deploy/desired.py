"""Project x service catalog → the specs of every node (pure: no engine, no files)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from colla.deploy.services import (
    ContainerDef,
    PermissionDef,
    ServiceCatalog,
    ServiceDef,
    TaskDef,
)
from colla.deploy.specs import (
    ContainerSpec,
    Healthcheck,
    LogLimits,
    NodeSpecs,
    RenderedFile,
    TaskSpec,
)
from colla.deploy.templates import REGION as REGION
from colla.deploy.templates import ServiceRenderer
from colla.deploy.topology import Topology as Topology
from colla.deploy.waits import Reach, with_waits
from colla.errors import BadInput
from colla.project import Project

CONFIG_MOUNT = "/var/lib/colla/config"
REGISTER_SCRIPT = "colla-register.py"


def image_ref(project: Project, image: str, tag: str | None = None) -> str:
    """The full name of a service image, from globals (registry, namespace, tag)."""
    g = project.globals
    prefix = f"{g.docker_registry}/" if g.docker_registry else ""
    return f"{prefix}{g.docker_namespace}/{image}:{tag or g.image_tag}"


def _config_json(
    command: str,
    files: list[RenderedFile],
    permissions: tuple[PermissionDef, ...],
    user: str | None,
) -> RenderedFile:
    data: dict[str, Any] = {
        "command": command,
        "config_files": [
            {"source": f"{CONFIG_MOUNT}/{f.name}", "dest": f.dest, "owner": f.owner, "perm": f.perm}
            for f in files
        ],
        "permissions": [p.model_dump(exclude_none=True) for p in permissions],
    }
    if user:
        data["user"] = user
    return RenderedFile("config.json", "", "root", "0600", json.dumps(data, indent=2) + "\n")


def _container(
    r: ServiceRenderer, project: Project, node: str, item: ContainerDef
) -> ContainerSpec:
    files, secrets = r.files(item.config, node, item)
    command = r.text(item.command, node, f"{item.name} command", item.name)
    files.append(_config_json(command, files, item.permissions, item.user))
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
        volumes=_volumes(project, item.volumes),
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
    )


def _task_spec(
    project: Project,
    where: tuple[str, str, str],
    image: str,
    files: list[RenderedFile],
    run: tuple[str, str | None, tuple[PermissionDef, ...]],
    volumes: dict[str, str] | None = None,
    tag: str | None = None,
) -> TaskSpec:
    """A task spec: ``where`` is (name, service, node), ``run`` is (command, user, permissions)."""
    name, service, node = where
    command, user, permissions = run
    return TaskSpec(
        name=name,
        service=service,
        node=node,
        image=image_ref(project, image, tag),
        image_id="",
        config_dir=str(project.config_dir / name),
        files=(*files, _config_json(command, files, permissions, user)),
        volumes=_volumes(project, volumes or {}),
    )


def _volumes(project: Project, volumes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Volume name → mount path, each name under the deployment's volume prefix."""
    prefix = project.globals.colla_volume_prefix
    return tuple(sorted((prefix + name, path) for name, path in volumes.items()))


def _task(r: ServiceRenderer, project: Project, node: str, item: TaskDef) -> TaskSpec:
    files = [r.file(f, node, item) for f in item.config]
    return _task_spec(
        project,
        (item.name, r.service.name, node),
        item.image,
        files,
        (item.command, item.user, item.permissions),
        item.volumes,
        r.tag,
    )


def _database_task(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: ServiceDef,
    node: str,
    tags: Mapping[str, str],
) -> TaskSpec:
    mariadb = ServiceRenderer(project, catalog, topology, catalog["mariadb"], tags.get("mariadb"))
    context = {**mariadb.context(node), "databases": service.databases}
    files = [
        RenderedFile(
            name,
            f"/etc/colla/{name}",
            "root",
            "0600",
            mariadb.env.get_template(f"{name}.j2").render(context),
        )
        for name in ("client.cnf", "databases.sql")
    ]
    command = (
        "sh -c 'mariadb --defaults-extra-file=/etc/colla/client.cnf < /etc/colla/databases.sql'"
    )
    where = (f"{service.name}-databases", service.name, node)
    return _task_spec(project, where, "mariadb", files, (command, "root", ()), tag=mariadb.tag)


def _register_task(
    project: Project,
    topology: Topology,
    service: ServiceDef,
    node: str,
    tag: str | None,
) -> TaskSpec:
    keystone = service.keystone
    assert keystone is not None
    base = f"http://{topology.internal_address}:{keystone.port}{keystone.path}"
    spec = {
        "auth_url": f"http://{topology.internal_address}:5000",
        "admin": {
            "username": "admin",
            "password": project.passwords["keystone_admin_password"],
            "project": "admin",
        },
        "region": REGION,
        "service_project": "service",
        "user": {
            "name": keystone.user,
            "password": project.passwords[keystone.password],
            "roles": list(keystone.roles),
        },
        "service": {"name": keystone.name, "type": keystone.type},
        "endpoints": {"public": base, "internal": base, "admin": base},
    }
    script = (service.directory.parent / "keystone" / REGISTER_SCRIPT).read_text(encoding="utf-8")
    files = [
        RenderedFile(
            "register.json", "/etc/colla/register.json", "root", "0600", json.dumps(spec, indent=2)
        ),
        RenderedFile(REGISTER_SCRIPT, f"/etc/colla/{REGISTER_SCRIPT}", "root", "0644", script),
    ]
    command = f"python3 /etc/colla/{REGISTER_SCRIPT} /etc/colla/register.json"
    where = (f"{service.name}-register", service.name, node)
    image = service.containers[0].image
    return _task_spec(project, where, image, files, (command, "root", ()), tag=tag)


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
) -> dict[str, NodeSpecs]:
    """Every node's containers and bootstrap tasks (image IDs not yet resolved).

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
    for name in sorted(enabled_services(project, catalog)):
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
        steps: list[TaskSpec] = []
        if service.databases:
            steps.append(_database_task(project, catalog, topology, service, first, tags))
        if service.keystone is not None:
            steps.append(_register_task(project, topology, service, first, tags.get(name)))
        steps.extend(_task(renderer, project, first, item) for item in service.bootstrap)
        tasks[first][name] = tuple(steps)
        if service.post_start:
            post[first][name] = tuple(
                _task(renderer, project, first, i) for i in service.post_start
            )
    reach = Reach(
        topology.api_address,
        topology.internal_address,
        project.globals.enabled.get("haproxy", False),
    )
    containers = with_waits(containers, catalog, reach)
    return {
        node: NodeSpecs(
            node,
            tuple(sorted(containers[node], key=lambda c: c.name)),
            tasks[node],
            post[node],
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
        )
        for node, specs in nodes.items()
    }


def image_refs(nodes: Mapping[str, NodeSpecs]) -> set[str]:
    """Every image the specs need."""
    refs: set[str] = set()
    for specs in nodes.values():
        refs.update(c.image for c in specs.containers)
        for steps in (*specs.tasks.values(), *specs.post.values()):
            refs.update(t.image for t in steps)
    return refs


def upgrade_tasks(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: str,
    tag: str | None,
) -> tuple[tuple[TaskSpec, ...], tuple[TaskSpec, ...]]:
    """A service's migrate and contract tasks from the (new) image tag, on its first host."""
    definition = catalog[service]
    node = definition.first_host(project.inventory).name
    renderer = ServiceRenderer(project, catalog, topology, definition, tag)
    migrate = tuple(_task(renderer, project, node, t) for t in definition.upgrade.migrate)
    contract = tuple(_task(renderer, project, node, t) for t in definition.upgrade.contract)
    return migrate, contract


BACKUP_VOLUME = "colla_backups"
BACKUP_MOUNT = "/backups"


def backup_tasks(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: str,
    name: str,
) -> tuple[TaskSpec, TaskSpec, TaskSpec]:
    """A dump of ``service``'s databases into the backups volume as ``name``, its restore,
    and a query of their schema versions (alembic), which tells whether a migration
    changed anything."""
    definition = catalog[service]
    node = catalog["mariadb"].first_host(project.inventory).name
    mariadb = ServiceRenderer(project, catalog, topology, catalog["mariadb"])
    client = RenderedFile(
        "client.cnf",
        "/etc/colla/client.cnf",
        "root",
        "0600",
        mariadb.env.get_template("client.cnf.j2").render(mariadb.context(node)),
    )
    databases = " ".join(db.name for db in definition.databases)
    dump = f"{BACKUP_MOUNT}/{name}.sql"
    # Written beside its final name and renamed: a dump that exists is complete.
    dump_command = (
        f"sh -c 'mariadb-dump --defaults-extra-file=/etc/colla/client.cnf --single-transaction "
        f"--add-drop-database --databases {databases} > {dump}.part && mv {dump}.part {dump}'"
    )
    restore_command = f"sh -c 'mariadb --defaults-extra-file=/etc/colla/client.cnf < {dump}'"
    versions = " UNION ALL ".join(
        f"SELECT '{db.name}', version_num FROM `{db.name}`.alembic_version"
        for db in definition.databases
    )
    schema_command = (
        f'mariadb --defaults-extra-file=/etc/colla/client.cnf -N -e "{versions} ORDER BY 1, 2"'
    )
    volumes = {BACKUP_VOLUME: BACKUP_MOUNT}
    made = []
    for suffix, command in (
        ("backup", dump_command),
        ("restore", restore_command),
        ("schema", schema_command),
    ):
        where = (f"{service}-{suffix}", service, node)
        made.append(_task_spec(project, where, "mariadb", [client], (command, "root", ()), volumes))
    return made[0], made[1], made[2]
