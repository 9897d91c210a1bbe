"""The tasks colla runs on the infrastructure services for the others: each service's
databases and its registration in the identity service (at bootstrap), and an upgrade's
migrations, database backup, restore and schema query.

What these tasks know of the database server and the identity service (commands, file
names, the register script, the admin) is catalog data: their ``database_server`` and
``identity_server`` entries, found by role (``provides``), not by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from colla.deploy.taskspecs import Run, catalog_task, task_spec
from colla.deploy.templates import REGION, ServiceRenderer, base_url, identity_url
from colla.errors import BadInput
from colla.model.catalog import FileDef
from colla.model.services import ServiceCatalog, ServiceDef
from colla.model.specs import RenderedFile, TaskSpec
from colla.model.topology import Topology
from colla.project import Project

TASK_DIR = "/etc/colla"  # where a task's own files are installed in its container
BACKUP_VOLUME = "colla_backups"
BACKUP_MOUNT = "/backups"


def _render(r: ServiceRenderer, item: FileDef, context: Mapping[str, Any]) -> RenderedFile:
    content = r.env.get_template(item.template).render(context)
    return RenderedFile(item.name, item.dest, item.owner, item.perm, content)


def _command(r: ServiceRenderer, source: str, **values: Any) -> str:
    return r.env.from_string(source).render(values)


@dataclass(frozen=True)
class _Cloud:
    """What every infrastructure task is rendered from."""

    project: Project
    catalog: ServiceCatalog
    topology: Topology


def _database_task(cloud: _Cloud, service: ServiceDef, node: str, tag: str | None) -> TaskSpec:
    """Create ``service``'s databases and users (idempotent), run in the server's image
    at ``tag``."""
    _, how = cloud.catalog.database_server()
    where = (f"{service.name}-databases", service.name, node)
    return _sql_task(cloud, where, tag, how.create_config, {"databases": service.databases})


def _sql_task(
    cloud: _Cloud,
    where: tuple[str, str, str],
    tag: str | None,
    sql: FileDef,
    values: Mapping[str, Any],
) -> TaskSpec:
    """A task that runs the SQL file ``sql`` (rendered with ``values``) with the
    database server's client, in its image at ``tag``, on node ``where[2]``."""
    server, how = cloud.catalog.database_server()
    r = ServiceRenderer(cloud.project, cloud.catalog, cloud.topology, server, tag)
    context = {**r.context(where[2]), **values}
    # The CA: the client verifies the server with it when the database is on TLS.
    files = [_render(r, f, context) for f in (how.client_config, sql)]
    files += r.ca_files()
    image = server.containers[0].image
    return task_spec(cloud.project, where, image, files, Run(how.create), tag=r.tag)


def _register_task(
    cloud: _Cloud,
    service: ServiceDef,
    node: str,
    tag: str | None,
    account: tuple[str, str] | None = None,
    retire: tuple[str, ...] = (),
) -> TaskSpec:
    """Register ``service`` (its user, roles, service and endpoints) in the identity
    service, run in ``service``'s own image at ``tag``. ``account``: the user and
    password to register instead of the project's (a rotation's new account);
    ``retire``: delete these users instead (a rotation's old account)."""
    keystone = service.keystone
    assert keystone is not None
    project = cloud.project
    name, password = account or (
        project.account(keystone.user, keystone.password),
        project.passwords[keystone.password],
    )
    identity, how = cloud.catalog.identity_server()
    internal = base_url(project, cloud.topology, keystone.port) + keystone.path
    public = base_url(project, cloud.topology, keystone.port, public=True) + keystone.path
    r = ServiceRenderer(project, cloud.catalog, cloud.topology, service, tag)
    ca = r.ca_files()
    spec = {
        "auth_url": identity_url(project, cloud.catalog, cloud.topology),
        # The CA to verify the identity service with ("": plain http).
        "cacert": ca[0].dest if ca else "",
        "admin": {
            "username": how.admin.user,
            "password": project.passwords[how.admin.password],
            "project": how.admin.project,
        },
        "region": REGION,
        "service_project": how.service_project,
        "user": {"name": name, "password": password, "roles": list(keystone.roles)},
        "retire": list(retire),
        "service": {"name": keystone.name, "type": keystone.type},
        "endpoints": {"public": public, "internal": internal, "admin": internal},
    }
    script_name = how.register_script
    script = (identity.directory / script_name).read_text(encoding="utf-8")
    files = [
        RenderedFile(
            "register.json", f"{TASK_DIR}/register.json", "root", "0600", json.dumps(spec, indent=2)
        ),
        RenderedFile(script_name, f"{TASK_DIR}/{script_name}", "root", "0644", script),
        *ca,
    ]
    command = f"python3 {TASK_DIR}/{script_name} {TASK_DIR}/register.json"
    step = "retire" if retire else "register"
    where = (f"{service.name}-{step}", service.name, node)
    image = service.containers[0].image
    return task_spec(project, where, image, files, Run(command), tag=tag)


def setup_tasks(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: ServiceDef,
    node: str,
    tags: Mapping[str, str],
) -> tuple[list[TaskSpec], list[TaskSpec]]:
    """What the infrastructure does for ``service`` before its containers start: its
    databases, and its registration (each list empty when it has none). The first
    needs only the database server; the second the identity service."""
    cloud = _Cloud(project, catalog, topology)
    databases, register = [], []
    if service.databases:
        server = catalog.provider("database").name
        databases.append(_database_task(cloud, service, node, tags.get(server)))
    if service.keystone is not None:
        register.append(_register_task(cloud, service, node, tags.get(service.name)))
    return databases, register


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
    r = ServiceRenderer(project, catalog, topology, definition, tag)
    migrate = tuple(catalog_task(r, project, node, t) for t in definition.upgrade.migrate)
    contract = tuple(catalog_task(r, project, node, t) for t in definition.upgrade.contract)
    return migrate, contract


def backup_tasks(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: str,
    name: str,
) -> tuple[TaskSpec, TaskSpec, TaskSpec]:
    """A dump of ``service``'s databases into the backups volume as ``name``, its restore,
    and a query of their schema versions, which tells whether a migration changed
    anything. Run on the database server's first host, in its image at the globals' tag."""
    definition = catalog[service]
    server, how = catalog.database_server()
    node = server.first_host(project.inventory).name
    r = ServiceRenderer(project, catalog, topology, server)
    client = _render(r, how.client_config, r.context(node))
    databases = [db.name for db in definition.databases]
    dump = f"{BACKUP_MOUNT}/{name}.sql"
    named_volumes = {BACKUP_VOLUME: BACKUP_MOUNT}
    image = server.containers[0].image
    made = []
    for suffix, source in (
        ("backup", how.dump),
        ("restore", how.restore),
        ("schema", how.versions),
    ):
        command = _command(r, source, databases=databases, dump=dump)
        where = (f"{service}-{suffix}", service, node)
        files = [client, *r.ca_files()]
        made.append(task_spec(project, where, image, files, Run(command), named_volumes))
    return made[0], made[1], made[2]


def password_task(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    users: list[str],
    password: str,
    retiring: str = "",
) -> TaskSpec:
    """Set the database ``users``' password; while ``retiring`` is given, the old
    password keeps working beside it. Run on the database server's first host."""
    server, how = catalog.database_server()
    if how.password_config is None:
        raise BadInput(f"the database server {server.name} declares no password_config")
    node = server.first_host(project.inventory).name
    step = "admit" if retiring else "set"
    where = (f"{server.name}-password-{step}", server.name, node)
    values = {"users": users, "password": password, "retiring": retiring}
    return _sql_task(_Cloud(project, catalog, topology), where, None, how.password_config, values)


def account_task(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    service: str,
    tag: str | None,
    account: tuple[str, str] | None = None,
    retire: tuple[str, ...] = (),
) -> TaskSpec:
    """``service``'s registration with ``account`` (user, password) as its user, or the
    deletion of the users ``retire``, on its first host in its image at ``tag``."""
    definition = catalog[service]
    node = definition.first_host(project.inventory).name
    cloud = _Cloud(project, catalog, topology)
    return _register_task(cloud, definition, node, tag, account, retire)
