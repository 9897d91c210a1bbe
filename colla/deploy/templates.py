"""Rendering a service's templates for one node: the Jinja context (addresses, ports,
passwords escaped for each file's format, the APIs HAProxy fronts) and overrides merged
over the generated INI files. Where things are comes in as a Topology."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jinja2

from colla.config.ini import merge_ini, parse_override
from colla.deploy.escape import FILTERS, ini, url
from colla.deploy.overrides import sources
from colla.errors import BadInput
from colla.model.catalog import ALT_PORT_OFFSET, FileDef, Role, TaskDef
from colla.model.services import ServiceCatalog, ServiceDef
from colla.model.specs import RenderedFile, digest, secret_digest
from colla.model.topology import Topology
from colla.project import Project

REGION = "RegionOne"


class _Reads(Mapping[str, str]):
    """The passwords, noting which keys are read: what a rendering read is what the
    rendered container uses (see ServiceRenderer.files)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        value = self._values[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class _Deferred:
    """A context value made when a template prints it, so that only the templates that
    use it read the passwords it holds."""

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make

    def __str__(self) -> str:
        return self._make()


def _rabbitmq_hash(password: str) -> str:
    # RabbitMQ's SHA-256 scheme: base64(salt + sha256(salt + password)). The salt is
    # derived from the password so that the same input renders the same file: a
    # no-change deploy must not see a changed config.
    salt = hashlib.sha256(b"colla-rabbitmq-salt" + password.encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


CA_FILE = "/etc/ssl/colla-ca.crt"  # the CA inside every container, when TLS is on


def base_url(project: Project, topology: Topology, port: int, public: bool = False) -> str:
    """Where clients reach an API's ``port``: on the internal side (the internal FQDN or
    VIP) or the public one (the external FQDN or VIP), over https where HAProxy
    terminates TLS for that side."""
    g = project.globals
    if public:
        host = g.kolla_external_fqdn or g.kolla_external_vip_address or topology.internal_address
        tls = g.kolla_enable_tls_external
    else:
        host = g.kolla_internal_fqdn or topology.internal_address
        tls = g.kolla_enable_tls_internal
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


def identity_url(
    project: Project, catalog: ServiceCatalog, topology: Topology, public: bool = False
) -> str:
    """The identity service's URL for clients and for the other services."""
    return base_url(project, topology, catalog.provider("identity").port, public)


def _servers(
    project: Project, catalog: ServiceCatalog, topology: Topology, role: Role
) -> list[str]:
    """``address:port`` of each host of the service providing ``role``; none when that
    service is not enabled."""
    service = catalog.provider(role)
    if not project.globals.enabled.get(service.name):
        return []
    return [
        f"{topology.api_address[h.name]}:{service.port}" for h in service.hosts(project.inventory)
    ]


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
                        "tls_port": container.api_tls_port,
                        "addresses": [topology.api_address[h.name] for h in hosts],
                    }
                )
    return apis


def _account(project: Project, service: ServiceDef) -> str | None:
    """The name of the shared account ``service`` declares, as in use (its ``-alt``
    twin after an odd number of rotations); None when it declares none."""
    if service.account is None:
        return None
    return project.account(service.account.user, service.account.password)


class ServiceRenderer:
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
        self.env.filters.update(FILTERS, rabbitmq_hash=_rabbitmq_hash)
        messaging = catalog.provider("messaging")
        brokers = _servers(project, catalog, topology, "messaging")
        self.passwords = _Reads(project.passwords.values)
        self.base_context: dict[str, Any] = {
            "service": service.name,
            "passwords": self.passwords,
            "globals": project.globals,
            "region": REGION,
            "database_address": topology.database_address,
            "memcache_servers": ",".join(_servers(project, catalog, topology, "cache")),
            "keystone_internal_url": identity_url(project, catalog, topology),
            "keystone_public_url": identity_url(project, catalog, topology, public=True),
            # TLS: the CA file the services' clients verify the internal side with
            # ("" when the internal side is plain http), and HAProxy's bundles.
            "ca_file": CA_FILE if project.globals.kolla_enable_tls_internal else "",
            "tls": project.tls,
            "public_url": lambda port: base_url(project, topology, port, public=True),
            "internal_address": topology.internal_address,
            "apis": _apis(project, catalog, topology),
            "api_port": self.api_port,
            "ports": self.ports,
            "transport_url": _Deferred(
                lambda: self.env.from_string(messaging.client_url or "").render(
                    servers=brokers,
                    passwords=self.passwords,
                    globals=project.globals,
                    user=_account(project, messaging),
                )
            ),
            "virt_type": topology.virt_type,
            "firewall_driver": topology.firewall_driver,
            "workers": topology.workers,
            "rpc_workers": topology.rpc_workers,
            "compute_hosts": [h.name for h in project.inventory.hosts_in("compute")],
            "database_url": self.database_url,
            "authtoken": self.authtoken,
            "messaging": self.messaging,
            "credentials": self.credentials,
            # The shared account the service declares (the message bus's), as in use.
            "account": _account(project, service),
        }
        self.topology = topology
        self.network_hosts = {h.name for h in project.inventory.hosts_in("network")}

    def database_url(self, name: str) -> str:
        """The connection URL of one of the service's (or its whole's) databases."""
        whole = self.service.part_of
        databases = (*self.service.databases, *(self.catalog[whole].databases if whole else ()))
        for db in databases:
            if db.name == name:
                password = url(self.passwords[db.password])
                return (
                    f"mysql+pymysql://{db.user}:{password}@"
                    f"{self.topology.database_address}:{self.catalog.provider('database').port}"
                    f"/{db.name}?charset=utf8{self._database_tls}"
                )
        raise BadInput(f"service {self.service.name} declares no database '{name}'")

    @property
    def _database_tls(self) -> str:
        # SQLAlchemy hands ssl_ca to PyMySQL, which then verifies the server's
        # certificate and its name (the database address, which it carries).
        if self.project.globals.database_enable_tls_backend:
            return f"&ssl_ca={CA_FILE}"
        return ""

    def authtoken(self, name: str) -> str:
        """The [keystone_authtoken] section of service ``name``'s API."""
        return self.credentials(
            name,
            "keystone_authtoken",
            www_authenticate_uri=self.base_context["keystone_public_url"],
            memcached_servers=self.base_context["memcache_servers"],
        )

    def messaging(self) -> str:
        """The [oslo_messaging_rabbit] section of a service on the message bus: quorum
        queues, and TLS with colla's CA; empty when it has nothing to say."""
        lines = []
        if self.project.globals.om_enable_rabbitmq_quorum_queues:
            lines.append("rabbit_quorum_queue = true")
        if self.project.globals.rabbitmq_enable_tls:
            # The broker serves AMQP over TLS only; its certificate is checked with the CA.
            lines += ["ssl = true", f"ssl_ca_file = {CA_FILE}"]
        return "\n".join(["[oslo_messaging_rabbit]", *lines]) + "\n" if lines else ""

    def credentials(self, name: str, section: str, **extra: str) -> str:
        """A config section holding service ``name``'s Keystone user and password; every
        value is escaped for oslo.config (``extra`` values included: they may be
        passwords, such as the metadata proxy's shared secret)."""
        keystone = self.catalog[name].keystone
        if keystone is None:
            raise BadInput(f"service {name} has no keystone registration")
        lines = [
            f"[{section}]",
            *(f"{k} = {ini(v)}" for k, v in extra.items()),
            f"auth_url = {self.base_context['keystone_internal_url']}",
            "auth_type = password",
            "project_domain_name = Default",
            "user_domain_name = Default",
            "project_name = service",
            f"username = {self.project.account(keystone.user, keystone.password)}",
            f"password = {ini(self.passwords[keystone.password])}",
        ]
        if self.base_context["ca_file"]:
            lines.append(f"cafile = {self.base_context['ca_file']}")
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

    def files(
        self, items: tuple[FileDef, ...], node: str, owner: TaskDef
    ) -> tuple[list[RenderedFile], tuple[tuple[str, str], ...]]:
        """A container's files, and the digests of the passwords it uses: those its
        files hold and those its service declares (which its bootstrap sets)."""
        self.passwords.read.clear()
        wanted = [item for item in items if self.wanted(item, node, owner)]
        files = [self.file(item, node, owner) for item in wanted] + self.ca_files()
        used = self.passwords.read | set(self.service.passwords)
        values = self.project.passwords.values
        secrets = tuple(sorted((k, secret_digest(k, values[k])) for k in used if k in values))
        return files, secrets

    def wanted(self, item: FileDef, node: str, owner: TaskDef) -> bool:
        """Whether ``item`` is installed on ``node`` (its ``when``, if any, is true)."""
        if item.when is None:
            return True
        try:
            test = self.env.compile_expression(item.when)
            return bool(test(self.context(node, owner.name)))
        except jinja2.TemplateError as e:
            where = self.service.directory / "service.yaml"
            raise BadInput(f"{where}: {item.template}: when: {e}") from None

    def ca_files(self) -> list[RenderedFile]:
        """The CA, for every container and task to verify the internal side with, when
        HAProxy terminates TLS there (kolla_copy_ca_into_containers, always on)."""
        tls = self.project.tls
        if tls is None or not self.project.globals.kolla_enable_tls_internal:
            return []
        return [RenderedFile("colla-ca.crt", CA_FILE, "root", "0644", tls.ca)]

    def file(self, item: FileDef, node: str, owner: TaskDef) -> RenderedFile:
        """One of ``owner``'s files (a container's or a task's) for ``node``, with the
        operator's overrides merged in their order; each override used is recorded by
        path and by its content's digest, so a plan can name the one that changed."""
        try:
            content = self.env.get_template(item.template).render(self.context(node, owner.name))
        except jinja2.TemplateSyntaxError as e:
            raise BadInput(f"{e.filename}:{e.lineno}: template syntax error: {e.message}") from None
        except jinja2.TemplateError as e:
            raise BadInput(f"{self.service.directory / item.template}: {e}") from None
        used = []
        for path in sources(self.project, self.service, owner, node, item):
            text = self.project.overrides[path]
            content = merge_ini(content, text, path, item.bare_keys)
            canonical = parse_override(text, path, item.bare_keys).canonical()
            used.append((path.relative_to(self.project.config_dir).as_posix(), digest(canonical)))
        return RenderedFile(item.name, item.dest, item.owner, item.perm, content, tuple(used))
