"""globals.yml: the deployment's settings, with kolla-ansible's key names."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic

from colla.config.names import Interface, Tag
from colla.errors import BadInput
from colla.yamlfile import describe_validation_error, load_yaml_mapping

_NAMESPACE = r"^[a-z0-9]+(?:[._\-/][a-z0-9]+)*$"
_ENABLE_PREFIX = "enable_"
# Docker's json-file size syntax: a number and a unit (k, m or g).
_LOG_SIZE = r"^[1-9][0-9]{0,5}[kmg]$"
# Every container's log is rotated: at most this many files of this size (250 MB in
# all by default), so logs cannot fill the disk and `colla logs` reads a bounded file.
DOCKER_LOG_MAX_SIZE = "50m"
DOCKER_LOG_MAX_FILE = 5
# A host name of letters, digits and hyphens in dot-separated labels, or an address.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FQDN = rf"^{_LABEL}(?:\.{_LABEL})*\.?$|^[0-9a-fA-F:.]+$"
# kolla-ansible's own files write the flags as quoted "yes"/"no" strings.
_YES_NO = {"yes": True, "no": False}
# Counts that kolla-ansible's files write as quoted numbers ("2").
_COUNT_KEYS = {"openstack_service_workers", "openstack_service_rpc_workers"}
_FLAG_KEYS = {
    "kolla_enable_tls_internal",
    "kolla_enable_tls_external",
    "rabbitmq_enable_tls",
    "database_enable_tls_backend",
    "om_enable_rabbitmq_quorum_queues",
}


class Globals(pydantic.BaseModel):
    """The operator's globals.yml, validated; ``enabled`` covers every known service."""

    # strict: YAML already gives typed values, and coercing "300" or true into an
    # int would hide a mistake in the file.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, strict=True)

    openstack_release: Tag = "zed"
    openstack_tag: Tag | None = None
    kolla_base_distro: Literal["debian"] = "debian"
    network_interface: Interface
    api_interface: Interface | None = None
    kolla_internal_vip_address: str | None = None
    # TLS names and files (kolla-ansible's keys; `colla certs`). The FQDNs default to the
    # VIPs, the external VIP to the internal one; relative paths are under the config
    # directory. kolla_admin_openrc_cacert: the CA that signed the operator's own
    # certificates (default: colla's CA, ca/root.crt in kolla_certificates_dir).
    kolla_external_vip_address: str | None = None
    kolla_internal_fqdn: str | None = pydantic.Field(default=None, pattern=_FQDN, max_length=253)
    kolla_external_fqdn: str | None = pydantic.Field(default=None, pattern=_FQDN, max_length=253)
    kolla_certificates_dir: str = "certificates"
    kolla_external_fqdn_cert: str | None = None
    kolla_internal_fqdn_cert: str | None = None
    kolla_admin_openrc_cacert: str | None = None
    # HAProxy terminates TLS on the VIP(s) (needs enable_haproxy and `colla certs`):
    # internal: every service and client reaches the APIs over https, trusting the CA
    # copied into the containers; external: the public endpoints are https.
    kolla_enable_tls_internal: bool = False
    kolla_enable_tls_external: bool = False
    # The message bus over TLS: RabbitMQ serves AMQP over TLS only, with the internal
    # certificate (it names every host), and the services verify it with the CA.
    rabbitmq_enable_tls: bool = False
    # The database over TLS: MariaDB serves TLS with the internal certificate and refuses
    # plain TCP (its socket stays open to local root), and every client verifies it.
    database_enable_tls_backend: bool = False
    # The services' RPC queues are RabbitMQ quorum queues (durable; kolla-ansible's key
    # and default since 2024.1): a queue outlives a restart of the broker, so a request
    # sent to a service that has not yet reconnected (after a host reboot) waits for it
    # instead of being dropped. They live in a vhost of their own ("openstack"), so that
    # switching never meets the other kind of queue under the same name.
    om_enable_rabbitmq_quorum_queues: bool = True
    docker_registry: str | None = None
    docker_namespace: str = pydantic.Field(default="colla", pattern=_NAMESPACE)
    # The interface on network hosts that carries the flat provider network ("physnet1");
    # Neutron's router gateways and floating IPs live there.
    neutron_external_interface: Interface | None = None
    # The interface whose address carries tenant (vxlan) traffic; default network_interface.
    tunnel_interface: Interface | None = None
    # kvm or qemu (software emulation); unset: kvm where this machine can run KVM guests.
    nova_compute_virt_type: Literal["kvm", "qemu"] | None = None
    # Worker processes of every API (uwsgi processes, ``workers``, ``api_workers``) and
    # of the RPC services (nova's conductor and scheduler, neutron's RPC workers), as in
    # kolla-ansible. Unset: sized from the machine colla runs on (see deploy/topology.py).
    openstack_service_workers: int | None = pydantic.Field(default=None, ge=1, le=64)
    openstack_service_rpc_workers: int | None = pydantic.Field(default=None, ge=1, le=64)
    colla_health_timeout: int = pydantic.Field(default=300, ge=10, le=3600)
    # colla's own keys (kolla-ansible has none for this): the json-file log rotation.
    docker_log_max_size: str = pydantic.Field(default=DOCKER_LOG_MAX_SIZE, pattern=_LOG_SIZE)
    docker_log_max_file: int = pydantic.Field(default=DOCKER_LOG_MAX_FILE, ge=1, le=100)
    # Keystone's tokens and key rotation (kolla-ansible's keys, seconds): how long a token
    # lives, how long after that an expired one may still be used to fetch another (the
    # services' long operations), and how often `colla rotate-keys` is meant to run.
    # They decide how many fernet keys Keystone keeps (``fernet_max_active_keys``).
    fernet_token_expiry: int = pydantic.Field(default=86400, ge=60)
    fernet_token_allow_expired_window: int = pydantic.Field(default=172800, ge=0)
    fernet_key_rotation_interval: int | None = pydantic.Field(default=None, ge=60)
    # The history of revisions (SQLite); relative paths are under the config directory.
    colla_history_path: str = "history.sqlite"
    # Where `colla backup` writes its archives (relative: under the config directory).
    # Better on another disk than the database's: a lost disk then loses only one.
    colla_backup_dir: str = "backups"
    # Put before every data volume's name, so that two clouds on one engine (a test
    # suite's and an operator's) never share a database. Empty: the plain names.
    colla_volume_prefix: str = pydantic.Field(
        default="", pattern=r"^(?:[a-z0-9][a-z0-9_.\-]{0,31})?$"
    )
    enabled: dict[str, bool] = {}

    @property
    def tls(self) -> bool:
        """Whether HAProxy terminates TLS on any VIP."""
        return self.kolla_enable_tls_internal or self.kolla_enable_tls_external

    @property
    def fernet_max_active_keys(self) -> int:
        """Keys Keystone keeps: one staged, one primary, and enough older ones that a
        token (or an expired one still in its window) outlives the rotations made in its
        life at the rotation interval (default: that life, so one older key)."""
        life = self.fernet_token_expiry + self.fernet_token_allow_expired_window
        interval = self.fernet_key_rotation_interval or life
        return -(-life // interval) + 2

    @property
    def image_tag(self) -> str:
        """The tag of the images to run: ``openstack_tag`` if set, else the release."""
        return self.openstack_tag or self.openstack_release

    @property
    def effective_api_interface(self) -> str:
        """The interface the APIs listen on: ``api_interface`` if set, else the network one."""
        return self.api_interface or self.network_interface

    @pydantic.field_validator("kolla_base_distro", mode="before")
    @classmethod
    def _debian_only(cls, value: Any) -> Any:
        if value != "debian":
            raise ValueError("colla builds Debian images only; set 'debian' or remove the key")
        return value

    @pydantic.field_validator("kolla_internal_vip_address", "kolla_external_vip_address")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("expected an IPv4 or IPv6 address") from None

    @pydantic.field_validator("docker_registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        if value is not None and ("://" in value or not value.strip() or value != value.strip()):
            raise ValueError("expected host[:port], without a scheme or spaces")
        return value


def load_globals(
    path: Path, services: Mapping[str, bool], parts: Mapping[str, str] | None = None
) -> Globals:
    """Read and validate globals.yml; ``services`` maps each known service to its default.

    Every ``enable_<service>`` key must name a known service; the result's
    ``enabled`` holds every known service, with the defaults filled in. ``parts`` maps
    services that are part of another to that one: they have no key and follow it.
    """
    parts = parts or {}
    raw = load_yaml_mapping(path)
    plain: dict[str, Any] = {}
    enabled = dict(services)
    for key, value in raw.items():
        name = str(key)
        if name == "enabled":
            # Internal field, filled from the enable_ keys; not a key of the file.
            raise BadInput(f"{path}: unknown key 'enabled' (use enable_<service>: true)")
        if name in _FLAG_KEYS:
            plain[name] = _flag(path, name, value)
            continue
        if name in _COUNT_KEYS and isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value):
            value = int(value)
        if not name.startswith(_ENABLE_PREFIX):
            plain[name] = value
            continue
        service = name.removeprefix(_ENABLE_PREFIX)
        if service in parts:
            raise BadInput(
                f"{path}: key '{name}': {service} is part of {parts[service]}; "
                f"use enable_{parts[service]}"
            )
        if service not in services:
            known = ", ".join(sorted(services)) or "none"
            raise BadInput(
                f"{path}: key '{name}': colla does not know service '{service}' (known: {known})"
            )
        enabled[service] = _flag(path, name, value)
    for part, whole in parts.items():
        enabled[part] = enabled.get(whole, False)
    try:
        return Globals.model_validate({**plain, "enabled": enabled})
    except pydantic.ValidationError as e:
        raise BadInput(describe_validation_error(path, e)) from None


def _flag(path: Path, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _YES_NO:
        return _YES_NO[value]
    raise BadInput(
        f'{path}: key \'{key}\': expected a boolean (true/false or "yes"/"no") (got {value!r})'
    )
