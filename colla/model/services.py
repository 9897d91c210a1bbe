"""The service catalog: each service's definition, and the catalog of all of them (its
dependency order, roles, passwords, defaults). Adding a service means adding data under
``colla/catalog/services/``; nothing here names one.
"""

from __future__ import annotations

import graphlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from colla.config.inventory import Host, Inventory
from colla.errors import BadInput
from colla.model.catalog import (
    AccountDef,
    BootstrapDef,
    ContainerDef,
    DatabaseDef,
    DatabaseServerDef,
    EndpointDef,
    HostFeature,
    IdentityServerDef,
    Probe,
    Role,
    TaskDef,
    UpgradeDef,
)

# The suffix of a service's node for its early bootstrap steps in a deploy's graph.
EARLY = ":early"


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
    account: AccountDef | None
    host_features: tuple[HostFeature, ...]
    backup_volumes: tuple[str, ...]
    bootstrap: tuple[BootstrapDef, ...]
    post_start: tuple[TaskDef, ...]
    rotate_keys: tuple[TaskDef, ...]
    upgrade: UpgradeDef
    containers: tuple[ContainerDef, ...]

    @property
    def group(self) -> str:
        """The first of the service's groups (its bootstrap runs on that group's hosts)."""
        return self.groups[0]

    @property
    def early_steps(self) -> tuple[BootstrapDef, ...]:
        """The leading bootstrap steps that wait only for the services they name."""
        early = []
        for step in self.bootstrap:
            if step.needs is None:
                break
            early.append(step)
        return tuple(early)

    @property
    def early_needs(self) -> tuple[str, ...]:
        """What the early steps (and the databases made before them) wait for."""
        return tuple(sorted({n for step in self.early_steps for n in step.needs or ()}))

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

    def front_port(self, tls: bool) -> int:
        """The port clients reach it on through HAProxy: its API's TLS port where that
        side is TLS and the API has one, else :attr:`port`."""
        if tls:
            for container in self.containers:
                if container.api_tls_port:
                    return container.api_tls_port
        return self.port

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

    def graph(self, names: set[str], early: Collection[str] = ()) -> dict[str, list[str]]:
        """Each of ``names`` → the names it waits for, within ``names``. A service of
        ``early`` also has a node ``<name>:early`` for its early bootstrap steps, which
        waits for their needs alone, and the service waits for it."""
        graph = {
            n: [d for d in (*self.services[n].depends_on, *self.services[n].after) if d in names]
            for n in names
        }
        for name in early:
            graph[name + EARLY] = [d for d in self.services[name].early_needs if d in names]
            graph[name].append(name + EARLY)
        return graph

    def sorter(
        self, names: set[str], early: Collection[str] = ()
    ) -> graphlib.TopologicalSorter[str]:
        """A prepared sorter over ``names`` (and the early nodes of ``early``) by their
        dependencies within ``names``."""
        graph = self.graph(names, early)
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
            steps = (*s.containers, *s.bootstrap, *s.post_start, *s.rotate_keys, *s.upgrade.migrate)
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

    def account_users(self) -> dict[str, str]:
        """The password key → user name of every account colla alternates when it
        rotates the password (colla.config.accounts): each service's Keystone user,
        and the shared accounts (the message bus's)."""
        users = {s.account.password: s.account.user for s in self.services.values() if s.account}
        for s in self.services.values():
            if s.keystone is not None:
                users[s.keystone.password] = s.keystone.user
        return users

    def database_users(self, names: set[str], key: str) -> list[str]:
        """The database users of the services ``names`` whose password is ``key``."""
        return sorted(
            {
                db.user
                for name in names
                for db in self.services[name].databases
                if db.password == key
            }
        )

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
