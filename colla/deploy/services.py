"""The service catalog: per-service data (containers, volumes, health, bootstrap, privileges).

Each service is a directory under ``colla/catalog/services/`` holding ``service.yaml`` and
the Jinja templates of its config files. Adding a service means adding data here.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pydantic

from colla.config.inventory import Host, Inventory
from colla.errors import BadInput
from colla.model.privileges import Privileges
from colla.yamlfile import describe_validation_error, load_yaml_mapping

_MODE = r"^0?[0-7]{3,4}$"
ALT_PORT_OFFSET = 10000


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class FileDef(_Model):
    """A config file: rendered from ``template`` in the service directory."""

    template: str
    dest: str
    owner: str = "root"
    perm: str = pydantic.Field(default="0600", pattern=_MODE)
    # INI files that the operator's <config-dir>/config/ overrides merge into, and in
    # which of kolla-ansible's layouts (colla.deploy.overrides): "service" for the
    # service's main oslo.config file, "file" for any other INI file.
    overridable: Literal["service", "file"] | None = None
    # A MySQL option file: a key alone on its line is a flag (``skip-name-resolve``), in
    # colla's rendering and in the operator's override.
    bare_keys: bool = False

    @property
    def name(self) -> str:
        """The file's name in the rendered config directory."""
        return self.template.removesuffix(".j2")


class HealthDef(_Model):
    """A Docker healthcheck; ``test`` is a shell command, rendered with Jinja."""

    test: str
    interval: int = 5
    timeout: int = 5
    retries: int = 3
    start_period: int = 60


class PrivilegesDef(_Model):
    """What a container gets beyond Docker's defaults; ``reason`` says why.

    The YAML's edge only: it validates (stricter than the model: a namespace can only be
    the host's) and turns into :class:`colla.model.privileges.Privileges`, the one shape
    the rest of colla uses; a test keeps their fields the same.
    """

    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    pid_mode: Literal["host"] | None = None
    ipc_mode: Literal["host"] | None = None
    init: bool = False
    reason: str = ""

    def to_privileges(self) -> Privileges:
        """The declaration as the model every layer uses."""
        return Privileges(**self.model_dump())


class PermissionDef(_Model):
    """A path colla-start creates and chowns before the service starts (volumes)."""

    path: str
    owner: str
    perm: str | None = pydantic.Field(default=None, pattern=_MODE)
    recurse: bool = False


class TaskDef(_Model):
    """A one-shot bootstrap container, run from the service's own image."""

    name: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    image: str
    command: str
    user: str | None = None
    config: tuple[FileDef, ...] = ()
    volumes: dict[str, str] = {}
    permissions: tuple[PermissionDef, ...] = ()


class ContainerDef(TaskDef):
    """A long-running container of a service: a task that stays up, checked for health."""

    # How `colla k8s` runs it: a Deployment (API), a StatefulSet (data with identity) or
    # a DaemonSet (a node-level agent). None: no Kubernetes mapping yet.
    kubernetes: Literal["Deployment", "StatefulSet", "DaemonSet"] | None = None
    # An API behind HAProxy: its port, and the path HAProxy checks. During an upgrade
    # the new container listens on api_port + ALT_PORT_OFFSET next to the old one.
    api_port: int | None = None
    api_check: str = "/"
    environment: dict[str, str] = {}
    ports: tuple[int, ...] = ()
    healthcheck: HealthDef
    privileges: PrivilegesDef = PrivilegesDef()


class DatabaseDef(_Model):
    """A database and its user; the password is a key of passwords.yml."""

    name: str = pydantic.Field(pattern=r"^[a-z0-9_]+$")
    user: str = pydantic.Field(pattern=r"^[a-z0-9_]+$")
    password: str


class EndpointDef(_Model):
    """A Keystone service and its endpoints, with the service user."""

    user: str
    password: str
    name: str
    type: str
    port: int
    path: str = ""
    roles: tuple[str, ...] = ("admin",)
    # An authenticated GET on this path is the functional check after an upgrade.
    check_path: str = "/"


class DatabaseServerDef(_Model):
    """How colla's tasks use the database server, run in its image: the client's config
    file, the SQL that creates each service's databases and users, and the command lines
    that create, dump, restore and query them. The commands are Jinja: ``databases`` is
    the list of database names, ``dump`` a dump file's path."""

    client_config: FileDef
    create_config: FileDef
    create: str
    dump: str
    restore: str
    # Prints each database's schema version, one line each: whether a migration changed it.
    versions: str


class AdminDef(_Model):
    """The identity service's admin: the user colla registers services as."""

    user: str
    project: str
    password: str


class IdentityServerDef(_Model):
    """How colla registers a service in the identity service: a script from the identity
    service's directory, run in the registered service's image, as ``admin``."""

    register_script: str
    admin: AdminDef
    # The project that owns every service user.
    service_project: str
    # The name the identity service registers itself under in its own catalog.
    catalog_name: str


# What a service is to the others: colla's tasks and templates find the database server,
# the identity service, the cache and the message bus by these, not by name.
Role = Literal["database", "identity", "cache", "messaging"]
# What a service needs of its hosts that prechecks report on (colla.deploy.prechecks).
HostFeature = Literal["virt_type", "network_agent", "firewall"]
# The checks `colla check` has code for (colla.deploy.check); a service names its own.
Probe = Literal["image_round_trip", "placement", "compute", "network_agents", "dashboard"]


class UpgradeDef(_Model):
    """Schema migrations of an upgrade, run from the new image: before the swap (expand,
    migrate) and after the new version is verified (contract)."""

    migrate: tuple[TaskDef, ...] = ()
    contract: tuple[TaskDef, ...] = ()


class _ServiceData(_Model):
    description: str = ""
    # The inventory group(s) whose hosts run the containers; bootstrap runs on the first.
    group: str | tuple[str, ...] = "control"
    enabled_by_default: bool = True
    # Why the service may run on one host only (None: any number). Set where colla has no
    # clustering for it, so a second host would run a separate, disagreeing copy; lift it
    # only together with real clustering (none exists yet). Prechecks refuse more hosts.
    single_host: str | None = None
    # A part of another service: no enable_ key of its own, enabled with that service,
    # and its templates may come from that service's directory too.
    part_of: str | None = None
    depends_on: tuple[str, ...] = ()
    # Ordering only: when these services are enabled too, they come first.
    after: tuple[str, ...] = ()
    passwords: tuple[str, ...] = ()
    # Passwords that must be ASCII, as every database user's is (see
    # ServiceCatalog.ascii_passwords): e.g. MariaDB's root password.
    ascii_passwords: tuple[str, ...] = ()
    databases: tuple[DatabaseDef, ...] = ()
    keystone: EndpointDef | None = None
    provides: Role | None = None
    database_server: DatabaseServerDef | None = None
    identity_server: IdentityServerDef | None = None
    # What `colla check` asks of the running service beyond its registration.
    probe: Probe | None = None
    # How another service addresses this one, where that takes more than an address
    # (the message bus's transport_url): Jinja, see templates.py for its values.
    client_url: str | None = None
    host_features: tuple[HostFeature, ...] = ()
    bootstrap: tuple[TaskDef, ...] = ()
    # Steps run once the containers are healthy (e.g. mapping new compute hosts).
    post_start: tuple[TaskDef, ...] = ()
    upgrade: UpgradeDef = UpgradeDef()
    containers: tuple[ContainerDef, ...]


@dataclass(frozen=True)
class ServiceDef:
    """One service of the catalog."""

    name: str
    directory: Path
    description: str
    groups: tuple[str, ...]
    enabled_by_default: bool
    single_host: str | None
    part_of: str | None
    depends_on: tuple[str, ...]
    after: tuple[str, ...]
    passwords: tuple[str, ...]
    ascii_passwords: tuple[str, ...]
    databases: tuple[DatabaseDef, ...]
    keystone: EndpointDef | None
    provides: Role | None
    database_server: DatabaseServerDef | None
    identity_server: IdentityServerDef | None
    probe: Probe | None
    client_url: str | None
    host_features: tuple[HostFeature, ...]
    bootstrap: tuple[TaskDef, ...]
    post_start: tuple[TaskDef, ...]
    upgrade: UpgradeDef
    containers: tuple[ContainerDef, ...]

    @property
    def group(self) -> str:
        """The first of the service's groups (its bootstrap runs on that group's hosts)."""
        return self.groups[0]

    @property
    def directories(self) -> tuple[Path, ...]:
        """Where its templates are looked up: its own directory, then its parent's."""
        if self.part_of is None:
            return (self.directory,)
        return (self.directory, self.directory.parent / self.part_of)

    @property
    def port(self) -> int:
        """The port its clients reach it on: its API's, else the first its containers
        publish."""
        for container in self.containers:
            if container.api_port:
                return container.api_port
        for container in self.containers:
            if container.ports:
                return container.ports[0]
        raise BadInput(f"{self.directory / 'service.yaml'}: no container declares a port")

    def hosts(self, inventory: Inventory) -> tuple[Host, ...]:
        """The hosts that run this service: the inventory's group named after the service
        when there is one (kolla-ansible's ``[memcached:children]``), else every host of
        any of its groups, by name."""
        if self.name in inventory.groups:
            return inventory.hosts_in(self.name)
        found = {h.name: h for g in self.groups for h in inventory.hosts_in(g)}
        return tuple(found[name] for name in sorted(found))

    def first_host(self, inventory: Inventory) -> Host:
        """The host its bootstrap steps run on: the first of its first group's hosts (of
        the group named after it, when the inventory has one)."""
        own = inventory.hosts_in(self.name) if self.name in inventory.groups else ()
        hosts = own or inventory.hosts_in(self.group) or self.hosts(inventory)
        if not hosts:
            raise BadInput(
                f"inventory: no host in group(s) {', '.join(self.groups)} for service {self.name}"
            )
        return hosts[0]


@dataclass(frozen=True)
class ServiceCatalog:
    """Every service colla knows, in dependency order."""

    root: Path
    services: dict[str, ServiceDef]

    def __getitem__(self, name: str) -> ServiceDef:
        return self.services[name]

    def provider(self, role: Role) -> ServiceDef:
        """The service that provides ``role`` (the database server, the identity service…)."""
        for service in self.services.values():
            if service.provides == role:
                return service
        raise BadInput(f"{self.root}: no service provides '{role}'")

    def database_server(self) -> tuple[ServiceDef, DatabaseServerDef]:
        """The database server and how colla's tasks use it."""
        service = self.provider("database")
        assert service.database_server is not None  # load_services checks it
        return service, service.database_server

    def identity_server(self) -> tuple[ServiceDef, IdentityServerDef]:
        """The identity service and how colla registers services in it."""
        service = self.provider("identity")
        assert service.identity_server is not None  # load_services checks it
        return service, service.identity_server

    def defaults(self) -> dict[str, bool]:
        """Service name → enabled by default (for ``enable_<service>`` keys); parts of
        another service have no key of their own."""
        return {
            name: s.enabled_by_default for name, s in self.services.items() if s.part_of is None
        }

    def parts(self) -> dict[str, str]:
        """Service name → the service it is part of (and is enabled with)."""
        return {name: s.part_of for name, s in self.services.items() if s.part_of is not None}

    def sorter(self, names: set[str]) -> graphlib.TopologicalSorter[str]:
        """A prepared sorter over ``names`` by their dependencies within ``names``."""
        graph = {
            n: [d for d in (*self.services[n].depends_on, *self.services[n].after) if d in names]
            for n in names
        }
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        return sorter

    def levels(self, names: set[str]) -> list[list[str]]:
        """``names`` in dependency levels: each level only needs the levels before it."""
        sorter = self.sorter(names)
        levels = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            levels.append(ready)
            sorter.done(*ready)
        return levels

    def volume_names(self) -> set[str]:
        """Every volume any service's containers or steps use, before the prefix."""
        names: set[str] = set()
        for s in self.services.values():
            steps = (*s.containers, *s.bootstrap, *s.post_start, *s.upgrade.migrate)
            for step in (*steps, *s.upgrade.contract):
                names.update(step.volumes)
        return names

    def ascii_passwords(self, names: set[str]) -> list[str]:
        """The password keys that must be ASCII: every database user's, and those a
        service declares so. PyMySQL, through which every service reaches MariaDB, sends
        a password as Latin-1 (characters beyond it fail to encode), while MariaDB hashes
        the UTF-8 of ``IDENTIFIED BY``: only ASCII reads the same on both sides."""
        keys: set[str] = set()
        for name in names:
            service = self.services[name]
            keys.update(service.ascii_passwords)
            keys.update(db.password for db in service.databases)
        return sorted(keys)

    def required_passwords(self, names: set[str]) -> list[str]:
        """Every password key the enabled services need."""
        keys: set[str] = set()
        for name in names:
            service = self.services[name]
            keys.update(service.passwords)
            keys.update(db.password for db in service.databases)
            if service.keystone is not None:
                keys.add(service.keystone.password)
        return sorted(keys)


def _check_roles(services: dict[str, ServiceDef]) -> None:
    """Each role has one provider at most, and the database and identity providers say
    how colla uses them."""
    seen: dict[str, str] = {}
    for service in services.values():
        where = service.directory / "service.yaml"
        role = service.provides
        if role is None:
            continue
        if role in seen:
            raise BadInput(f"{where}: '{role}' is provided by {seen[role]} already")
        seen[role] = service.name
        if role == "database" and service.database_server is None:
            raise BadInput(f"{where}: provides database but has no database_server")
        if role == "identity" and service.identity_server is None:
            raise BadInput(f"{where}: provides identity but has no identity_server")


def default_services_root() -> Path:
    """The service catalog shipped inside the colla package."""
    return Path(str(resources.files("colla.catalog") / "services"))


def load_services(root: Path | None = None) -> ServiceCatalog:
    """Load and check every ``<service>/service.yaml`` under ``root``."""
    root = root or default_services_root()
    services: dict[str, ServiceDef] = {}
    for index in sorted(root.glob("*/service.yaml")):
        name = index.parent.name
        try:
            data = _ServiceData.model_validate(load_yaml_mapping(index))
        except pydantic.ValidationError as e:
            raise BadInput(describe_validation_error(index, e)) from None
        for item in (
            *data.containers,
            *data.bootstrap,
            *data.post_start,
            *data.upgrade.migrate,
            *data.upgrade.contract,
        ):
            for file in item.config:
                places = [index.parent]
                if data.part_of:
                    places.append(root / data.part_of)
                if not any((place / file.template).is_file() for place in places):
                    raise BadInput(f"{index}: {item.name}: template {file.template} is missing")
        fields = dict(data)
        group = fields.pop("group")
        groups = (group,) if isinstance(group, str) else tuple(group)
        services[name] = ServiceDef(name=name, directory=index.parent, groups=groups, **fields)
    _check_roles(services)
    for service in services.values():
        for dep in (*service.depends_on, *filter(None, [service.part_of])):
            if dep not in services:
                raise BadInput(f"{service.directory / 'service.yaml'}: unknown dependency '{dep}'")
    catalog = ServiceCatalog(root=root, services=services)
    try:
        catalog.levels(set(services))
    except graphlib.CycleError as e:
        raise BadInput(
            f"{root}: service dependencies form a cycle: {' → '.join(e.args[1])}"
        ) from None
    return catalog
