"""Where a node's Docker engine is and how to reach it (pure: no SDK, no connection).

Three ways, chosen per inventory host:
- ``local``: the engine colla itself talks to (DOCKER_HOST or the local socket);
- ``ssh``: ``ssh://user@host:port``, the remote engine's socket forwarded over the
  system ``ssh`` with an explicit key and known_hosts file (see :mod:`colla.engine.tunnel`);
- ``tcp``: ``tcp://host:port`` with TLS client certificates. Plain TCP is refused: anyone
  who reaches the port would own the node.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from colla.errors import BadInput

DEFAULT_SSH_USER = "root"
DEFAULT_SSH_PORT = 22
DEFAULT_REMOTE_SOCKET = "/var/run/docker.sock"

# Inventory variables (host or group vars) besides Ansible's own ansible_* ones.
VAR_URL = "colla_docker_url"
VAR_TLS_CA = "colla_docker_tls_ca"
VAR_TLS_CERT = "colla_docker_tls_cert"
VAR_TLS_KEY = "colla_docker_tls_key"
VAR_KNOWN_HOSTS = "colla_ssh_known_hosts"
VAR_SOCKET = "colla_docker_socket"


@dataclass(frozen=True)
class TLSFiles:
    """Client certificate, its key, and the CA that signed the engine's certificate."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class Endpoint:
    """How to reach one node's engine; ``url`` is what errors and tables show."""

    node: str
    kind: Literal["local", "ssh", "tcp"]
    url: str
    host: str = ""
    port: int = 0
    user: str = ""
    key_file: str | None = None
    known_hosts: str | None = None
    remote_socket: str = DEFAULT_REMOTE_SOCKET
    tls: TLSFiles | None = None

    @property
    def remote(self) -> bool:
        """Whether the engine runs on another machine (its files are not ours)."""
        return self.kind != "local"


@dataclass(frozen=True)
class HostFacts:
    """What the inventory says about a host that matters for reaching its engine."""

    name: str
    address: str
    local: bool
    user: str | None = None
    port: int | None = None
    key_file: str | None = None
    vars: Mapping[str, str] | None = None


def endpoint_for(host: HostFacts, where: str) -> Endpoint:
    """The endpoint of ``host``'s engine; ``where`` (the inventory file) names errors.

    A host given ``colla_docker_url`` is reached there (ssh:// or tcp:// with TLS);
    otherwise a local host uses the local engine and any other host SSH to its address.
    """
    variables = dict(host.vars or {})
    url = variables.get(VAR_URL)
    if url is None:
        if host.local:
            return Endpoint(host.name, "local", "local")
        return _ssh(host, variables, host.address, host.port, host.user)
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme
    try:
        port = parsed.port
    except ValueError:
        raise BadInput(f"{where}: host {host.name}: {VAR_URL} {url}: bad port") from None
    if scheme == "ssh":
        if not parsed.hostname:
            raise BadInput(f"{where}: host {host.name}: {VAR_URL} {url}: no host name")
        return _ssh(
            host, variables, parsed.hostname, port or host.port, parsed.username or host.user
        )
    if scheme == "tcp":
        return _tcp(host, variables, url, parsed.hostname, port, where)
    raise BadInput(
        f"{where}: host {host.name}: {VAR_URL} {url}: expected ssh://user@host[:port] "
        "or tcp://host:port (with TLS)"
    )


def _ssh(
    host: HostFacts,
    variables: Mapping[str, str],
    address: str,
    port: int | None,
    user: str | None,
) -> Endpoint:
    user = user or DEFAULT_SSH_USER
    port = port or DEFAULT_SSH_PORT
    return Endpoint(
        node=host.name,
        kind="ssh",
        url=f"ssh://{user}@{address}:{port}",
        host=address,
        port=port,
        user=user,
        key_file=host.key_file,
        known_hosts=variables.get(VAR_KNOWN_HOSTS),
        remote_socket=variables.get(VAR_SOCKET, DEFAULT_REMOTE_SOCKET),
    )


def _tcp(
    host: HostFacts,
    variables: Mapping[str, str],
    url: str,
    hostname: str | None,
    port: int | None,
    where: str,
) -> Endpoint:
    if not hostname or port is None:
        raise BadInput(f"{where}: host {host.name}: {VAR_URL} {url}: expected tcp://host:port")
    files = {key: variables.get(key) for key in (VAR_TLS_CA, VAR_TLS_CERT, VAR_TLS_KEY)}
    missing = [key for key, value in files.items() if not value]
    if missing:
        raise BadInput(
            f"{where}: host {host.name}: {VAR_URL} {url} is plain TCP; colla refuses an engine "
            f"without TLS client certificates (set {', '.join(missing)})"
        )
    tls = TLSFiles(
        ca=str(files[VAR_TLS_CA]), cert=str(files[VAR_TLS_CERT]), key=str(files[VAR_TLS_KEY])
    )
    return Endpoint(node=host.name, kind="tcp", url=url, host=hostname, port=port, tls=tls)


def ssh_command(endpoint: Endpoint, local_socket: str) -> list[str]:
    """The ``ssh`` command that forwards ``local_socket`` to the node's engine socket,
    for as long as its stdin stays open.

    Host keys are checked strictly and never added: an unknown or changed key fails.
    """
    if endpoint.kind != "ssh":
        raise ValueError(f"{endpoint.url} is not an ssh endpoint")
    command = [
        "ssh",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "StreamLocalBindUnlink=yes",
    ]
    if endpoint.known_hosts:
        command += ["-o", f"UserKnownHostsFile={endpoint.known_hosts}"]
    if endpoint.key_file:
        command += ["-i", endpoint.key_file, "-o", "IdentitiesOnly=yes"]
    command += [
        "-p",
        str(endpoint.port),
        "-l",
        endpoint.user,
        "-L",
        f"{local_socket}:{endpoint.remote_socket}",
        "--",
        endpoint.host,
        # Instead of -N: a remote command that ends when colla's end of stdin closes, so
        # the tunnel goes with colla even when colla is killed (SIGKILL runs no atexit).
        "cat >/dev/null",
    ]
    return command
