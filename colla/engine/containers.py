"""Containers and volumes on one engine (mixed into DockerEngine)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import docker.types
import requests.exceptions

from colla.engine.errors import translated
from colla.errors import EngineError
from colla.model.privileges import Privileges

NANO = 1_000_000_000


@dataclass(frozen=True)
class ContainerInfo:
    """What colla reads of a container."""

    id: str
    name: str
    state: str
    health: str | None
    labels: dict[str, str]
    image_id: str
    started_at: str
    exit_code: int

    @classmethod
    def from_inspect(cls, attrs: dict[str, Any]) -> ContainerInfo:
        """Parse ``docker container inspect`` JSON."""
        state = attrs.get("State") or {}
        health = state.get("Health") or {}
        return cls(
            id=attrs["Id"],
            name=str(attrs.get("Name", "")).lstrip("/"),
            state=str(state.get("Status", "unknown")),
            health=health.get("Status"),
            labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
            image_id=str(attrs.get("Image", "")),
            started_at=str(state.get("StartedAt", "")),
            exit_code=int(state.get("ExitCode") or 0),
        )


@dataclass(frozen=True)
class ContainerRequest:
    """Everything a container is created from; host networking unless ``network`` says
    otherwise (lab nodes and the registry sit on the lab's own network)."""

    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, str] = field(default_factory=dict)  # volume name → path
    binds: Mapping[str, str] = field(default_factory=dict)  # host path → "path:mode"
    health_test: str | None = None
    health_interval: int = 5
    health_timeout: int = 5
    health_retries: int = 3
    health_start_period: int = 60
    restart: str | None = "unless-stopped"
    privileges: Privileges = field(default_factory=Privileges)
    network: str = "host"
    ip: str | None = None  # a fixed address on ``network``
    hostname: str | None = None
    publish: Mapping[int, tuple[str, int]] = field(default_factory=dict)  # port → (ip, port)
    # json-file rotation: (max-size, max-file); None leaves Docker's unbounded default.
    log_limits: tuple[str, int] | None = None
    # Its CPU weight against others when the CPU is contended (Docker's cpu-shares; a
    # container's default is 1024). None: the default.
    cpu_shares: int | None = None


@dataclass(frozen=True)
class Grants:
    """What a container was actually created with beyond Docker's defaults: everything
    ``colla audit`` compares, read from one ``docker container inspect``.

    ``privileges`` is the part a catalog can declare, in the same model, so that audit
    compares like with like; the rest is what only a running container shows (see
    :mod:`colla.model.privileges` for why it is not in that model).
    """

    network_mode: str
    privileged: bool
    privileges: Privileges
    # Host paths mounted in: "source:destination:rw|ro".
    binds: tuple[str, ...] = ()
    # Named volumes: "name:destination" (anonymous ones, an image's VOLUME, are left out:
    # they hold data, never a host path).
    volumes: tuple[str, ...] = ()
    user: str = ""
    userns_mode: str = ""
    cgroupns_mode: str = ""
    uts_mode: str = ""
    sysctls: tuple[str, ...] = ()  # "key=value"
    device_cgroup_rules: tuple[str, ...] = ()
    image_id: str = ""

    @classmethod
    def from_inspect(cls, attrs: dict[str, Any]) -> Grants:
        """Parse the HostConfig, Config and Mounts of ``docker container inspect``."""
        host = attrs.get("HostConfig") or {}
        config = attrs.get("Config") or {}
        mounts = attrs.get("Mounts") or ()
        return cls(
            network_mode=str(host.get("NetworkMode") or "default"),
            privileged=bool(host.get("Privileged")),
            privileges=_observed_privileges(host),
            binds=tuple(
                sorted(
                    f"{m.get('Source')}:{m.get('Destination')}:{'rw' if m.get('RW') else 'ro'}"
                    for m in mounts
                    if m.get("Type") == "bind"
                )
            ),
            volumes=tuple(
                sorted(
                    f"{m.get('Name')}:{m.get('Destination')}"
                    for m in mounts
                    if m.get("Type") == "volume" and not _anonymous(str(m.get("Name") or ""))
                )
            ),
            user=str(config.get("User") or ""),
            userns_mode=str(host.get("UsernsMode") or ""),
            cgroupns_mode=str(host.get("CgroupnsMode") or ""),
            uts_mode=str(host.get("UTSMode") or ""),
            sysctls=tuple(sorted(f"{k}={v}" for k, v in (host.get("Sysctls") or {}).items())),
            device_cgroup_rules=tuple(sorted(host.get("DeviceCgroupRules") or ())),
            image_id=str(attrs.get("Image") or ""),
        )


def _observed_privileges(host: dict[str, Any]) -> Privileges:
    """A HostConfig's grants, spelt as a declaration would spell them."""
    security = {o.replace(":", "=", 1) for o in host.get("SecurityOpt") or ()}
    # An empty list (not a missing key) is what unmasks /proc: what
    # systempaths=unconfined asks for.
    if host.get("MaskedPaths") == [] or host.get("ReadonlyPaths") == []:
        security.add("systempaths=unconfined")
    return Privileges(
        cap_add=tuple(sorted(c.removeprefix("CAP_") for c in host.get("CapAdd") or ())),
        cap_drop=tuple(sorted(c.removeprefix("CAP_") for c in host.get("CapDrop") or ())),
        security_opt=tuple(sorted(security)),
        devices=tuple(sorted(str(d.get("PathOnHost")) for d in host.get("Devices") or ())),
        pid_mode=_shared(str(host.get("PidMode") or "")),
        ipc_mode=_shared(str(host.get("IpcMode") or "")),
        init=bool(host.get("Init")),
    )


def _shared(mode: str) -> str | None:
    # Docker spells a namespace of the container's own "", "private" or "shareable".
    return mode if mode == "host" or mode.startswith("container:") else None


def privilege_options(p: Privileges) -> dict[str, Any]:
    """``create_host_config``'s options for ``p``; None leaves Docker's default."""
    return {
        "cap_add": list(p.cap_add) or None,
        "cap_drop": list(p.cap_drop) or None,
        "security_opt": list(p.security_opt) or None,
        "devices": [f"{d}:{d}:rwm" for d in p.devices] or None,
        "pid_mode": p.pid_mode,
        "ipc_mode": p.ipc_mode,
        "init": p.init or None,
    }


def _anonymous(name: str) -> bool:
    # Docker names an anonymous volume with 64 hex digits.
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def log_config(limits: tuple[str, int] | None) -> docker.types.LogConfig | None:
    """The json-file log options of ``limits`` (max-size, max-file); None: Docker's default."""
    if limits is None:
        return None
    size, count = limits
    return docker.types.LogConfig(
        type=docker.types.LogConfig.types.JSON, config={"max-size": size, "max-file": str(count)}
    )


class ContainersMixin:
    """Container and volume calls; needs ``self._client`` (a docker.DockerClient)."""

    _client: Any

    def containers(self, label: str) -> list[ContainerInfo]:
        """Every container (running or not) carrying ``label``."""
        with translated(f"list containers labelled {label}"):
            found = self._client.api.containers(all=True, filters={"label": label})
            infos = []
            for summary in found:
                with contextlib.suppress(docker.errors.NotFound):
                    infos.append(
                        ContainerInfo.from_inspect(
                            self._client.api.inspect_container(summary["Id"])
                        )
                    )
            return infos

    def container(self, name: str) -> ContainerInfo | None:
        """Inspect a container by name or ID; None when there is none."""
        try:
            return ContainerInfo.from_inspect(self._client.api.inspect_container(name))
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"inspect container {name}: {e}") from e

    def grants(self, name: str) -> Grants | None:
        """What a container was granted (host config); None when there is none."""
        try:
            return Grants.from_inspect(self._client.api.inspect_container(name))
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"inspect container {name}: {e}") from e

    def audited(self, label: str) -> list[tuple[ContainerInfo, Grants]]:
        """Every container (running or not) carrying ``label``, with its grants."""
        with translated(f"inspect containers labelled {label}"):
            found = self._client.api.containers(all=True, filters={"label": label})
            pairs = []
            for summary in found:
                with contextlib.suppress(docker.errors.NotFound):
                    attrs = self._client.api.inspect_container(summary["Id"])
                    pairs.append((ContainerInfo.from_inspect(attrs), Grants.from_inspect(attrs)))
            return pairs

    def cgroupns_default(self) -> str:
        """The cgroup namespace Docker gives a container that asks for none: the host's
        on cgroup v1, a private one on v2."""
        with translated("engine info"):
            version = str(self._client.info().get("CgroupVersion") or "1")
        return "private" if version == "2" else "host"

    def create_container(self, request: ContainerRequest) -> str:
        """Create (not start) a container; return its ID."""
        api = self._client.api
        binds = [f"{vol}:{path}" for vol, path in request.volumes.items()]
        binds += [f"{host}:{target}" for host, target in request.binds.items()]
        with translated(f"create container {request.name}"):
            host_config = api.create_host_config(
                binds=binds or None,
                network_mode=request.network,
                port_bindings=dict(request.publish) or None,
                restart_policy={"Name": request.restart} if request.restart else None,
                log_config=log_config(request.log_limits),
                cpu_shares=request.cpu_shares,
                **privilege_options(request.privileges),
            )
            healthcheck = None
            if request.health_test:
                healthcheck = {
                    "test": ["CMD-SHELL", request.health_test],
                    "interval": request.health_interval * NANO,
                    "timeout": request.health_timeout * NANO,
                    "retries": request.health_retries,
                    "start_period": request.health_start_period * NANO,
                }
            networking = None
            if request.ip is not None:
                networking = api.create_networking_config(
                    {request.network: api.create_endpoint_config(ipv4_address=request.ip)}
                )
            created = api.create_container(
                request.image,
                name=request.name,
                hostname=request.hostname,
                ports=list(request.publish) or None,
                networking_config=networking,
                command=list(request.command) if request.command is not None else None,
                environment=dict(request.environment) or None,
                labels=dict(request.labels),
                healthcheck=healthcheck,
                host_config=host_config,
                detach=True,
            )
        return str(created["Id"])

    def start(self, name: str) -> None:
        """Start a created or stopped container."""
        with translated(f"start container {name}"):
            self._client.api.start(name)

    def stop(self, name: str, timeout: int = 20) -> None:
        """Stop a container, SIGKILL after ``timeout`` seconds."""
        with translated(f"stop container {name}"):
            self._client.api.stop(name, timeout=timeout)

    def rename(self, name: str, new_name: str) -> None:
        """Give a container another name."""
        with translated(f"rename container {name} to {new_name}"):
            self._client.api.rename(name, new_name)

    def set_cpu_shares(self, name: str, shares: int) -> None:
        """Change a running container's CPU weight."""
        with translated(f"update container {name}"):
            self._client.api.update_container(name, cpu_shares=shares)

    def remove_container(self, name: str) -> None:
        """Remove a container (stopping it if needed); a missing one is fine."""
        try:
            self._client.api.remove_container(name, force=True, v=False)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"remove container {name}: {e}") from e

    def logs(self, name: str, tail: int | str = "all") -> str:
        """A container's output so far (stdout and stderr)."""
        with translated(f"logs of {name}"):
            data = self._client.api.logs(name, stdout=True, stderr=True, tail=tail)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    def follow_logs(self, name: str, tail: int | str = 50) -> Iterator[str]:
        """Stream a container's output until it stops."""
        with translated(f"logs of {name}"):
            stream = self._client.api.logs(
                name, stdout=True, stderr=True, stream=True, follow=True, tail=tail
            )
            for chunk in stream:
                yield chunk.decode("utf-8", "replace")

    def memory_usage(self, name: str) -> int:
        """Bytes of memory a running container uses, page cache excluded (as docker stats)."""
        with translated(f"stats of {name}"):
            stats = self._client.api.stats(name, stream=False)
        memory = stats.get("memory_stats") or {}
        detail = memory.get("stats") or {}
        cache = detail.get(
            "total_inactive_file", detail.get("inactive_file", detail.get("cache", 0))
        )
        return int(memory.get("usage", 0)) - int(cache or 0)

    def run_to_completion(self, request: ContainerRequest) -> tuple[int, str]:
        """Run a one-shot container and remove it; return its exit code and output."""
        self.remove_container(request.name)
        self.create_container(request)
        try:
            with translated(f"run {request.name}"):
                self._client.api.start(request.name)
                status = self._client.api.wait(request.name)
            return int(status.get("StatusCode", -1)), self.logs(request.name)
        finally:
            self.remove_container(request.name)

    # volumes --------------------------------------------------------------------------

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        """Create a named volume (a no-op when it exists)."""
        with translated(f"create volume {name}"):
            self._client.api.create_volume(name=name, labels=dict(labels))

    def volumes(self, label: str) -> list[str]:
        """Names of the volumes carrying ``label``."""
        with translated(f"list volumes labelled {label}"):
            found = self._client.api.volumes(filters={"label": label}) or {}
        return sorted(v["Name"] for v in found.get("Volumes") or [])

    def all_volumes(self) -> list[str]:
        """Names of every volume on the engine."""
        with translated("list volumes"):
            found = self._client.api.volumes() or {}
        return sorted(v["Name"] for v in found.get("Volumes") or [])

    def remove_volume(self, name: str) -> None:
        """Remove a named volume; a missing one is fine."""
        try:
            self._client.api.remove_volume(name, force=True)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"remove volume {name}: {e}") from e
