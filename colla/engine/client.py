"""One DockerEngine per Docker daemon; every SDK failure leaves here as a colla error."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.constants
import docker.errors
import docker.tls
import requests.exceptions

from colla.engine.containers import ContainersMixin
from colla.engine.endpoint import Endpoint
from colla.engine.errors import translated as _translated
from colla.engine.inside import InsideMixin
from colla.engine.probe import ProbeMixin
from colla.engine.transfer import TransferMixin
from colla.engine.tunnel import TUNNELS
from colla.errors import EngineError

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class ImageInfo:
    """What colla needs to know of an image, read from ``docker image inspect``."""

    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    size: int
    layers: tuple[str, ...]
    created: str

    @classmethod
    def from_inspect(cls, attrs: dict[str, Any]) -> ImageInfo:
        """Parse the engine's inspect JSON."""
        config = attrs.get("Config") or {}
        return cls(
            id=attrs["Id"],
            tags=tuple(attrs.get("RepoTags") or ()),
            labels=dict(config.get("Labels") or {}),
            size=int(attrs.get("Size") or 0),
            layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
            created=str(attrs.get("Created", "")),
        )


@dataclass(frozen=True)
class BuildRequest:
    """One legacy-builder build: a tar context holding a ``Dockerfile``."""

    context: bytes
    tag: str | None = None
    nocache: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """The outcome of a one-shot container."""

    exit_code: int
    output: str


class DockerEngine(ContainersMixin, ProbeMixin, InsideMixin, TransferMixin):
    """A connection to one Docker daemon; ``remote`` when it runs on another machine.

    It implements :class:`colla.engine.Engine`, the protocol the library is written
    against; only the edges that open connections name this class.
    """

    def __init__(self, client: Any, url: str, remote: bool = False) -> None:
        self._client = client
        self.url = url
        self.remote = remote

    @classmethod
    def connect(cls, url: str | None = None, timeout: int = 120) -> DockerEngine:
        """Connect to ``url`` (default: the environment, then the local socket) and ping it."""
        target = url or "the local Docker engine (DOCKER_HOST or /var/run/docker.sock)"
        try:
            if url:
                client = docker.DockerClient(base_url=url, timeout=timeout)
            else:
                client = docker.from_env(timeout=timeout)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(
                f"no Docker engine answers at {target}: {e}. "
                "Start one (`make setup` installs docker.io and starts dockerd)."
            ) from e
        return cls(client, url or "local")

    @classmethod
    def connect_endpoint(cls, endpoint: Endpoint, timeout: int = 120) -> DockerEngine:
        """Connect to a node's engine (ssh or tcp+TLS) and ping it; errors name the node."""
        if endpoint.kind == "local":
            return cls.connect(timeout=timeout)
        where = f"node {endpoint.node} ({endpoint.url})"
        try:
            if endpoint.kind == "ssh":
                tunnel = TUNNELS.get(endpoint)
                client = docker.DockerClient(base_url=tunnel.url, timeout=timeout)
            else:
                assert endpoint.tls is not None
                tls = docker.tls.TLSConfig(
                    client_cert=(endpoint.tls.cert, endpoint.tls.key),
                    ca_cert=endpoint.tls.ca,
                    verify=True,
                )
                client = _tls_client(f"https://{endpoint.host}:{endpoint.port}", tls, timeout)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            if endpoint.kind == "ssh":
                TUNNELS.drop(endpoint)
            raise EngineError(f"{where}: the Docker engine does not answer: {e}") from e
        return cls(client, endpoint.url, remote=True)

    def server_version(self) -> str:
        """The daemon's version string, e.g. ``20.10.24+dfsg1``."""
        with _translated("engine version"):
            return str(self._client.version().get("Version", "unknown"))

    def docker_root(self) -> str:
        """The engine's data directory (for the disk check)."""
        with _translated("engine info"):
            return str(self._client.info().get("DockerRootDir", "/var/lib/docker"))

    # images -----------------------------------------------------------------------------

    def image(self, ref: str) -> ImageInfo | None:
        """Inspect ``ref``; None when the engine has no such image."""
        try:
            attrs = self._client.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"inspect image {ref}: {e}") from e
        return ImageInfo.from_inspect(attrs)

    def images(self, label: str) -> list[ImageInfo]:
        """Every image carrying ``label`` (``key`` or ``key=value``)."""
        with _translated(f"list images labelled {label}"):
            summaries = self._client.api.images(filters={"label": label})
            return [
                ImageInfo.from_inspect(self._client.api.inspect_image(s["Id"])) for s in summaries
            ]

    def build(self, request: BuildRequest, on_line: LineSink) -> str:
        """Build with the legacy builder, streaming each output line; return the image ID."""
        image_id: str | None = None
        what = f"build {request.tag or 'image'}"
        with _translated(what):
            stream = self._client.api.build(
                fileobj=_BytesReader(request.context),
                custom_context=True,
                tag=request.tag,
                nocache=request.nocache,
                rm=True,
                forcerm=True,
                labels=request.labels or None,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = str(chunk.get("error", "")).strip()
                    on_line(detail)
                    raise EngineError(f"{what} failed: {detail}")
                text = chunk.get("stream")
                if isinstance(text, str):
                    for line in text.splitlines():
                        if line.strip():
                            on_line(line)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    image_id = str(aux["ID"])
        if image_id is None:
            raise EngineError(f"{what}: the engine reported no image ID")
        return image_id

    def import_tarball(
        self, tarball: Path, repository: str, tag: str, changes: Sequence[str]
    ) -> str:
        """``docker import`` a root filesystem tarball with Dockerfile ``changes``."""
        with _translated(f"import {repository}:{tag}"):
            result = self._client.api.import_image_from_file(
                str(tarball), repository=repository, tag=tag, changes=list(changes)
            )
        info = self.image(f"{repository}:{tag}")
        if info is None:
            raise EngineError(f"import {repository}:{tag}: the engine said {result!r}")
        return info.id

    def pull(self, ref: str) -> str:
        """Pull ``ref`` from its registry; return the image ID."""
        repository, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
        with _translated(f"pull {ref}"):
            self._client.api.pull(repository, tag=tag or "latest")
        info = self.image(ref if tag else f"{ref}:latest")
        if info is None:
            raise EngineError(f"pull {ref}: the engine has no image after pulling")
        return info.id

    def tag(self, ref: str, repository: str, tag: str) -> None:
        """Give ``ref`` the name ``repository:tag``."""
        with _translated(f"tag {ref} as {repository}:{tag}"):
            self._client.api.tag(ref, repository, tag, force=True)

    def push(self, repository: str, tag: str, on_line: LineSink) -> None:
        """Push ``repository:tag`` to the registry its name points at."""
        with _translated(f"push {repository}:{tag}"):
            for chunk in self._client.api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise EngineError(f"push {repository}:{tag}: {chunk['error']}")
                status = chunk.get("status")
                if status:
                    on_line(str(status))

    def remove_image(self, ref: str) -> None:
        """Remove an image name (and the image when no other name holds it)."""
        with _translated(f"remove image {ref}"):
            self._client.api.remove_image(ref, force=True, noprune=False)

    # one-shot containers ----------------------------------------------------------------

    def run(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        entrypoint: Sequence[str] | None = None,
        binds: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        user: str | None = None,
    ) -> RunResult:
        """Run a container to completion and remove it; return its exit code and output.

        ``binds`` maps a host path or volume name to ``container-path[:mode]``.
        """
        with _translated(f"run {image}"):
            host_config = self._client.api.create_host_config(
                binds=[f"{src}:{dst}" for src, dst in (binds or {}).items()] or None,
            )
            container = self._client.api.create_container(
                image,
                command=list(command) if command is not None else None,
                entrypoint=list(entrypoint) if entrypoint is not None else None,
                environment=environment,
                user=user or "",
                host_config=host_config,
            )
            cid = container["Id"]
            try:
                self._client.api.start(cid)
                status = self._client.api.wait(cid)
                logs = self._client.api.logs(cid, stdout=True, stderr=True)
            finally:
                with contextlib.suppress(docker.errors.DockerException):
                    self._client.api.remove_container(cid, force=True)
        text = logs.decode("utf-8", "replace") if isinstance(logs, bytes) else str(logs)
        return RunResult(exit_code=int(status.get("StatusCode", -1)), output=text)


def _tls_client(base: str, tls: docker.tls.TLSConfig, timeout: int) -> Any:
    """A client that verifies the engine against the node's CA, and only that CA.

    requests lets REQUESTS_CA_BUNDLE (set on this machine) replace a session's CA for
    every request unless the session ignores the environment, and the SDK's client
    asks the engine's API version while it is constructed, before that can be set.
    So: construct at the oldest API version (no request), ignore the environment,
    ask the version, then construct again at that version.
    """
    minimum = docker.constants.MINIMUM_DOCKER_API_VERSION
    probe = docker.DockerClient(base_url=base, tls=tls, timeout=timeout, version=minimum)
    probe.api.trust_env = False
    version = str(probe.api.version(api_version=False)["ApiVersion"])
    probe.close()
    client = docker.DockerClient(base_url=base, tls=tls, timeout=timeout, version=version)
    client.api.trust_env = False
    return client


class _BytesReader:
    """A file object over bytes; the SDK streams the build context from it."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk
