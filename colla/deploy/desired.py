"""Project x service catalog → the specs of every node (pure: no engine, no files)."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import jinja2

from colla.config.ini import merge_ini
from colla.deploy.services import (
    ALT_PORT_OFFSET,
    ContainerDef,
    FileDef,
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
    Privileges,
    RenderedFile,
    TaskSpec,
)
from colla.deploy.waits import Reach, with_waits
from colla.errors import BadInput
from colla.project import Project

CONFIG_MOUNT = "/var/lib/colla/config"
REGION = "RegionOne"
REGISTER_SCRIPT = "colla-register.py"


@dataclass(frozen=True)
class Topology:
    """Where things are: each node's API address and the address clients use, plus
    what prechecks found out about the hosts (tunnel addresses, the virt type)."""

    api_address: Mapping[str, str]
    internal_address: str
    database_address: str
    # Each node's address for tenant (vxlan) traffic; a missing node uses its API address.
    tunnel_address: Mapping[str, str] = field(default_factory=dict)
    virt_type: str = "kvm"
    # "iptables" where the kernel filters bridged traffic (br_netfilter), else "noop".
    firewall_driver: str = "iptables"


def image_ref(project: Project, image: str, tag: str | None = None) -> str:
    """The full name of a service image, from globals (registry, namespace, tag)."""
    g = project.globals
    prefix = f"{g.docker_registry}/" if g.docker_registry else ""
    return f"{prefix}{g.docker_namespace}/{image}:{tag or g.image_tag}"


def _sql(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _shell(value: str) -> str:
    return value.replace("'", "'\\''")


def _rabbitmq_hash(password: str) -> str:
    # RabbitMQ's SHA-256 scheme: base64(salt + sha256(salt + password)). The salt is
    # derived from the password so that the same input renders the same file: a
    # no-change deploy must not see a changed config.
    salt = hashlib.sha256(b"colla-rabbitmq-salt" + password.encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _apis(project: Project, catalog: ServiceCatalog, topology: Topology) -> list[dict[str, Any]]:
    """The APIs HAProxy fronts: each enabled container that declares an api_port."""
    apis = []
    for name in sorted(catalog.services):
        if not project.globals.enabled.get(name):
            continue
        service = catalog[name]
        for container in service.containers:
            if container.api_port:
                hosts = service.hosts(project.inventory)
                apis.append(
                    {
                        "name": container.name.replace("_", "-"),
                        "port": container.api_port,
                        "alt_port": container.api_port + ALT_PORT_OFFSET,
                        "check": container.api_check,
                        "addresses": [topology.api_address[h.name] for h in hosts],
                    }
                )
    return apis


class _Renderer:
    """Renders one service's templates for one node."""

    def __init__(
        self,
        project: Project,
        catalog: ServiceCatalog,
        topology: Topology,
        service: ServiceDef,
        tag: str | None = None,
        alt: bool = False,
    ) -> None:
        self.project = project
        self.tag = tag
        # Each API listens on its port, or on the alternate one (the upgrade's "b" slot).
        offset = ALT_PORT_OFFSET if alt else 0
        self.ports = {c.name: c.api_port + offset for c in service.containers if c.api_port}
        self.api_port = next(iter(self.ports.values()), None)
        self.catalog = catalog
        self.service = service
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in service.directories]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        self.env.filters.update(sql=_sql, shell=_shell, rabbitmq_hash=_rabbitmq_hash)
        enabled = project.globals.enabled
        memcached = (
            catalog["memcached"].hosts(project.inventory) if enabled.get("memcached") else ()
        )
        rabbitmq = catalog["rabbitmq"].hosts(project.inventory) if enabled.get("rabbitmq") else ()
        rabbit_password = urllib.parse.quote(
            project.passwords.values.get("rabbitmq_password", ""), safe=""
        )
        self.base_context: dict[str, Any] = {
            "service": service.name,
            "passwords": dict(project.passwords.values),
            "globals": project.globals,
            "region": REGION,
            "database_address": topology.database_address,
            "memcache_servers": ",".join(
                f"{topology.api_address[h.name]}:11211" for h in memcached
            ),
            "keystone_internal_url": f"http://{topology.internal_address}:5000",
            "keystone_public_url": f"http://{topology.internal_address}:5000",
            "internal_address": topology.internal_address,
            "apis": _apis(project, catalog, topology),
            "api_port": self.api_port,
            "ports": self.ports,
            "transport_url": "rabbit://"
            + ",".join(
                f"openstack:{rabbit_password}@{topology.api_address[h.name]}:5672" for h in rabbitmq
            )
            + "/",
            "virt_type": topology.virt_type,
            "firewall_driver": topology.firewall_driver,
            "compute_hosts": [h.name for h in project.inventory.hosts_in("compute")],
            "database_url": self.database_url,
            "authtoken": self.authtoken,
            "credentials": self.credentials,
        }
        self.topology = topology
        self.network_hosts = {h.name for h in project.inventory.hosts_in("network")}

    def database_url(self, name: str) -> str:
        """The connection URL of one of the service's (or its whole's) databases."""
        whole = self.service.part_of
        databases = (*self.service.databases, *(self.catalog[whole].databases if whole else ()))
        for db in databases:
            if db.name == name:
                password = urllib.parse.quote(self.project.passwords[db.password], safe="")
                return (
                    f"mysql+pymysql://{db.user}:{password}@"
                    f"{self.topology.database_address}:3306/{db.name}?charset=utf8"
                )
        raise BadInput(f"service {self.service.name} declares no database '{name}'")

    def authtoken(self, name: str) -> str:
        """The [keystone_authtoken] section of service ``name``'s API."""
        return self.credentials(
            name,
            "keystone_authtoken",
            www_authenticate_uri=self.base_context["keystone_public_url"],
            memcached_servers=self.base_context["memcache_servers"],
        )

    def credentials(self, name: str, section: str, **extra: str) -> str:
        """A config section holding service ``name``'s Keystone user and password."""
        keystone = self.catalog[name].keystone
        if keystone is None:
            raise BadInput(f"service {name} has no keystone registration")
        lines = [
            f"[{section}]",
            *(f"{k} = {v}" for k, v in extra.items()),
            f"auth_url = {self.base_context['keystone_internal_url']}",
            "auth_type = password",
            "project_domain_name = Default",
            "user_domain_name = Default",
            "project_name = service",
            f"username = {keystone.user}",
            f"password = {self.project.passwords[keystone.password]}",
        ]
        return "\n".join(lines) + "\n"

    def context(self, node: str, container: str | None = None) -> dict[str, Any]:
        return {
            **self.base_context,
            "node": node,
            "api_address": self.topology.api_address[node],
            "tunnel_address": self.topology.tunnel_address.get(
                node, self.topology.api_address[node]
            ),
            "container": container,
            "api_port": self.ports.get(container or "", self.api_port),
            # The provider network's interface, on network hosts only.
            "external_interface": (
                self.project.globals.neutron_external_interface
                if node in self.network_hosts
                else None
            ),
        }

    def text(self, source: str, node: str, what: str, container: str | None = None) -> str:
        try:
            return self.env.from_string(source).render(self.context(node, container))
        except jinja2.TemplateError as e:
            raise BadInput(f"{self.service.directory / 'service.yaml'}: {what}: {e}") from None

    def file(self, item: FileDef, node: str, container: str) -> RenderedFile:
        try:
            content = self.env.get_template(item.template).render(self.context(node, container))
        except jinja2.TemplateSyntaxError as e:
            raise BadInput(f"{e.filename}:{e.lineno}: template syntax error: {e.message}") from None
        except jinja2.TemplateError as e:
            raise BadInput(f"{self.service.directory / item.template}: {e}") from None
        if item.overridable:
            for path in self.project.override_paths(self.service.name, container):
                content = merge_ini(content, self.project.overrides[path], path)
        return RenderedFile(item.name, item.dest, item.owner, item.perm, content)


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


def _container(r: _Renderer, project: Project, node: str, item: ContainerDef) -> ContainerSpec:
    files = [r.file(f, node, item.name) for f in item.config]
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
        privileges=Privileges(**item.privileges.model_dump()),
        ports=((r.ports[item.name],) if item.name in r.ports else ()) + item.ports,
        log=LogLimits(project.globals.docker_log_max_size, project.globals.docker_log_max_file),
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


def _task(r: _Renderer, project: Project, node: str, item: TaskDef) -> TaskSpec:
    files = [r.file(f, node, item.name) for f in item.config]
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
    mariadb = _Renderer(project, catalog, topology, catalog["mariadb"], tags.get("mariadb"))
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
        renderer = _Renderer(project, catalog, topology, service, tags.get(name), name in alt)
        renderers = {tags.get(name): renderer}
        for host in hosts:
            tag = node_tags.get((host.name, name), tags.get(name))
            if tag not in renderers:
                renderers[tag] = _Renderer(project, catalog, topology, service, tag, name in alt)
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
    renderer = _Renderer(project, catalog, topology, definition, tag)
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
    mariadb = _Renderer(project, catalog, topology, catalog["mariadb"])
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
