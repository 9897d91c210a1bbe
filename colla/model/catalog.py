"""The service catalog's data, as each ``service.yaml`` declares it: containers, files,
health, privileges, tasks, databases, roles. Validated by pydantic when the catalog is
loaded (:func:`colla.catalog.load_services`), frozen from then on.
"""

from __future__ import annotations

from typing import Literal

import pydantic

from colla.model.privileges import Privileges

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
    # A Jinja expression (the template context): the file is installed only where it
    # is true, e.g. HAProxy's certificates only when TLS is on.
    when: str | None = None

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


class ReloadDef(_Model):
    """How a running container takes changed config files without a restart: colla
    installs them in place, runs ``check`` (a failure leaves the running process on its
    old config), then sends ``signal`` or runs ``command`` in the container. ``files``:
    the rendered files it can take so (empty: any); a change to another recreates it.
    Commands are shell words, rendered with Jinja."""

    signal: Literal["SIGHUP", "SIGUSR1", "SIGUSR2"] | None = None
    command: str | None = None
    check: str | None = None
    files: tuple[str, ...] = ()

    @pydantic.model_validator(mode="after")
    def _one_way(self) -> ReloadDef:
        if (self.signal is None) == (self.command is None):
            raise ValueError("reload: give either signal or command")
        return self


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


class BootstrapDef(TaskDef):
    """A bootstrap step of a service, run before its containers start."""

    # The services this step waits for, when fewer than the service's depends_on: a
    # schema migration needs the database server only, so it runs while the others
    # (the identity service above all) are still starting. Such steps come first in
    # the list, and run after the service's databases are made; None: all of them.
    needs: tuple[str, ...] | None = None


class RequestsDef(_Model):
    """What a container asks Kubernetes to reserve for it (``colla k8s``). The defaults
    fit the small services; a catalog entry raises them where bench/deploy measured more
    (a request below the real use lets the scheduler overcommit the node)."""

    cpu: str = pydantic.Field(default="100m", pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    memory: str = pydantic.Field(default="128Mi", pattern=r"^[0-9]+(Ki|Mi|Gi)$")


class ContainerDef(TaskDef):
    """A long-running container of a service: a task that stays up, checked for health."""

    # How `colla k8s` runs it: a Deployment (API), a StatefulSet (data with identity) or
    # a DaemonSet (a node-level agent). None: no Kubernetes mapping yet.
    kubernetes: Literal["Deployment", "StatefulSet", "DaemonSet"] | None = None
    requests: RequestsDef = RequestsDef()
    # An API behind HAProxy: its port, and the path HAProxy checks. During an upgrade
    # the new container listens on api_port + ALT_PORT_OFFSET next to the old one.
    api_port: int | None = None
    api_check: str = "/"
    # Where HAProxy serves this API when it ends TLS for that side, if not on api_port
    # (the dashboard: 443); its api_port then redirects plain HTTP to https.
    api_tls_port: int | None = pydantic.Field(default=None, ge=1, le=65535)
    environment: dict[str, str] = {}
    ports: tuple[int, ...] = ()
    healthcheck: HealthDef
    privileges: PrivilegesDef = PrivilegesDef()
    # Changed config files only (same image, volumes, environment...): applied in place
    # with a signal instead of a recreate, so the service never stops (HAProxy's renewed
    # certificates). None: every change recreates the container.
    reload: ReloadDef | None = None


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


class AccountDef(_Model):
    """The one account every client of a shared service signs in with (the message
    bus's), which `colla rotate-password` alternates with its ``-alt`` twin.
    ``delete``: a command, run in the service's running container, that removes an
    account (Jinja: ``user``)."""

    user: str = pydantic.Field(pattern=r"^[a-z0-9_]+$")
    password: str
    delete: str


class DatabaseServerDef(_Model):
    """How colla's tasks use the database server, run in its image: the client's config
    file, the SQL that creates each service's databases and users, and the command lines
    that create, dump, restore and query them. The commands are Jinja: ``databases`` is
    the list of database names, ``dump`` a dump file's path."""

    client_config: FileDef
    create_config: FileDef
    create: str
    # The SQL that sets the password of some users (`colla rotate-password`), run by
    # ``create`` (so at ``create_config``'s path). Jinja: ``users``, ``password``, and
    # ``retiring``: the old password, which is to keep working beside the new one
    # ("" when it goes).
    password_config: FileDef | None = None
    dump: str
    restore: str
    # Prints each database's schema version, one line each: whether a migration changed it.
    versions: str
    # A script (run with ``sh``) that loads a dump into a private server on a data
    # directory, made when empty, and prints ``database<TAB>table<TAB>rows`` for each
    # query of an optional counts file: a backup's proof (a scratch directory) and a
    # restore (the server's own volume, while no server runs on it). Arguments: the data
    # directory, the dump, the counts file or "".
    load_script: FileDef
    # The server container's volume that holds its data directory (where a restore loads).
    data_volume: str
    # The counts file's query of one table: Jinja with ``database`` and ``table``.
    count_query: str


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


class ServiceData(_Model):
    """One ``service.yaml``, as written."""

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
    account: AccountDef | None = None
    host_features: tuple[HostFeature, ...] = ()
    # Volumes whose data a backup holds and a restore puts back (the keys a database
    # does not hold, an image store). The database server's data goes as a dump instead.
    backup_volumes: tuple[str, ...] = ()
    bootstrap: tuple[BootstrapDef, ...] = ()
    # The steps of `colla rotate-keys`, in order, on the service's first host: each makes
    # a new staged key beside the ones in use, so that nothing signed or encrypted
    # before stops working (see keystone's).
    rotate_keys: tuple[TaskDef, ...] = ()
    # Steps run once the containers are healthy (e.g. mapping new compute hosts).
    post_start: tuple[TaskDef, ...] = ()
    upgrade: UpgradeDef = UpgradeDef()
    containers: tuple[ContainerDef, ...]
