"""One in-memory engine for unit tests: the whole :class:`colla.engine.Engine` protocol.

Containers, volumes, images, networks and written directories are kept as dicts, so the
logic above the engine (plan, apply, swap, revert, prune) runs as it would on a daemon.
Every call is logged as a short line (``start keystone``); ``fail_on`` makes the calls
starting with it fail, ``fail_next`` only the next such call, and ``down`` every call, as
a dead engine would.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from colla.engine import (
    BuildRequest,
    ContainerInfo,
    ContainerRequest,
    Engine,
    Grants,
    ImageInfo,
    RunResult,
)
from colla.engine.protocol import LineSink
from colla.engine.transfer import FileEntry
from colla.errors import EngineError
from colla.history.store import History, RevisionStatus
from colla.model.privileges import Privileges
from colla.model.specs import TaskSpec


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _matches(labels: Mapping[str, str], label: str) -> bool:
    """Docker's label filter: ``key`` (present) or ``key=value``."""
    key, eq, value = label.partition("=")
    return key in labels and (not eq or labels[key] == value)


@dataclass
class Stored:
    """A container as the fake holds it: what ``container`` reports, plus its request."""

    info: ContainerInfo
    request: ContainerRequest | None = None
    created_here: bool = False


@dataclass
class FakeEngine:
    """One node's engine, in memory. ``health`` is what a container created here reports
    once started (those put in with ``add`` keep their own), ``probe`` what its
    healthcheck says when colla runs it; ``results`` gives the exit
    code and output of one-shot runs, by container name (named) or image (unnamed)."""

    node: str = "local"
    remote: bool = False
    fail_on: str | None = None
    down: bool = False
    health: str | None = "healthy"
    probe: bool | None = True  # what the container's own healthcheck says, run by colla
    every_image: bool = False  # image() answers any ref, as if it had been built
    results: dict[str, tuple[int, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    stored: dict[str, Stored] = field(default_factory=dict)
    volume_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    image_names: dict[str, ImageInfo] = field(default_factory=dict)
    nets: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: dict[str, dict[str, FileEntry]] = field(default_factory=dict)
    put: list[tuple[str, str, bytes]] = field(default_factory=list)
    # volume → the tar it holds (``colla-target/…`` members, as the engine gives them)
    volume_data: dict[str, bytes] = field(default_factory=dict)
    ran: list[ContainerRequest] = field(default_factory=list)
    execs: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    granted: dict[str, Grants] = field(default_factory=dict)
    once: list[str] = field(default_factory=list)  # see fail_next
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: int = 0

    @property
    def url(self) -> str:
        return f"ssh://root@{self.node}" if self.remote else "local"

    def _call(self, what: str) -> None:
        with self._lock:
            self.calls.append(what)
            once = next((p for p in self.once if what.startswith(p)), None)
            if once is not None:
                self.once.remove(once)
        failing = self.fail_on is not None and what.startswith(self.fail_on)
        if self.down or failing or once is not None:
            raise EngineError(f"{what}: the Docker engine does not answer (reset by peer)")

    def fail_next(self, prefix: str) -> None:
        """Make the next call starting with ``prefix`` fail, and only that one."""
        self.once.append(prefix)

    def _next_id(self) -> str:
        with self._lock:
            self._ids += 1
            return f"{self.node}-{self._ids:04d}"

    # set-up helpers (not part of the protocol) ------------------------------------------

    def add(
        self,
        name: str,
        *,
        state: str = "running",
        health: str | None = "healthy",
        labels: Mapping[str, str] | None = None,
        image_id: str = "",
    ) -> ContainerInfo:
        """A container that was there before the test."""
        info = ContainerInfo(
            self._next_id(), name, state, health, dict(labels or {}), image_id, "", 0
        )
        self.stored[name] = Stored(info)
        return info

    def add_image(self, ref: str, labels: Mapping[str, str] | None = None) -> ImageInfo:
        """An image named ``ref`` (its ID derives from the name)."""
        info = ImageInfo(_digest(ref), (ref,), dict(labels or {}), 0, (), "")
        self.image_names[ref] = info
        return info

    def state(self, name: str) -> str | None:
        """The container's state; None when there is none."""
        found = self.stored.get(name)
        return found.info.state if found else None

    @property
    def tasks(self) -> list[str]:
        """The names of the one-shot containers run, in order."""
        return [r.name for r in self.ran]

    # the engine -------------------------------------------------------------------------

    def docker_root(self) -> str:
        self._call("info")
        return "/"

    def image(self, ref: str) -> ImageInfo | None:
        self._call(f"image {ref}")
        found = self.image_names.get(ref)
        if found is None:
            found = next((i for i in self.image_names.values() if i.id == ref), None)
        if found is None and self.every_image:
            found = self.add_image(ref)
        return found

    def images(self, label: str) -> list[ImageInfo]:
        self._call(f"images {label}")
        unique = {i.id: i for i in self.image_names.values() if _matches(i.labels, label)}
        return list(unique.values())

    def build(self, request: BuildRequest, on_line: LineSink) -> str:
        self._call(f"build {request.tag or 'image'}")
        info = ImageInfo(
            _digest(request.context.hex()), (), dict(request.labels), len(request.context), (), ""
        )
        if request.tag:
            self.image_names[request.tag] = replace(info, tags=(request.tag,))
        on_line(f"Successfully built {info.id[7:19]}")
        return info.id

    def import_tarball(
        self, tarball: Path, repository: str, tag: str, changes: Sequence[str]
    ) -> str:
        self._call(f"import {repository}:{tag}")
        return self.add_image(f"{repository}:{tag}").id

    def pull(self, ref: str) -> str:
        self._call(f"pull {ref}")
        return (self.image_names.get(ref) or self.add_image(ref)).id

    def tag(self, ref: str, repository: str, tag: str) -> None:
        self._call(f"tag {ref} {repository}:{tag}")
        source = self.image_names.get(ref) or next(
            (i for i in self.image_names.values() if i.id == ref), None
        )
        if source is None:
            raise EngineError(f"tag {ref}: image not found")
        name = f"{repository}:{tag}"
        self.image_names[name] = replace(source, tags=(*source.tags, name))

    def push(self, repository: str, tag: str, on_line: LineSink) -> None:
        self._call(f"push {repository}:{tag}")
        on_line("Pushed")

    def remove_image(self, ref: str) -> None:
        self._call(f"remove image {ref}")
        for name in [n for n, i in self.image_names.items() if ref in (n, i.id)]:
            del self.image_names[name]

    def save_image(self, ref: str) -> Iterator[bytes]:
        self._call(f"save {ref}")
        yield ref.encode()

    def load_image(self, stream: Iterable[bytes]) -> list[str]:
        self._call("load")
        refs = [chunk.decode() for chunk in stream]
        for ref in refs:
            self.add_image(ref)
        return [f"Loaded image: {ref}" for ref in refs]

    # containers -------------------------------------------------------------------------

    def containers(self, label: str) -> list[ContainerInfo]:
        self._call(f"containers {label}")
        return [s.info for s in list(self.stored.values()) if _matches(s.info.labels, label)]

    def container(self, name: str) -> ContainerInfo | None:
        self._call(f"inspect {name}")
        found = self.stored.get(name) or next(
            (s for s in self.stored.values() if s.info.id == name), None
        )
        return found.info if found else None

    def probe_health(self, name: str) -> bool | None:
        self._call(f"probe {name}")
        found = self.stored.get(name)
        if found is None or found.info.state != "running":
            return False
        return self.probe

    def exec(self, name: str, argv: Sequence[str]) -> tuple[int, str]:
        """``results`` keyed ``exec <name> <argv[0]>`` answer; by default exit 0. The
        argv of every call is kept in ``execs``."""
        self._call(f"exec {name} {argv[0]}")
        self.execs.append((name, tuple(argv)))
        found = self.stored.get(name)
        if found is None or found.info.state != "running":
            raise EngineError(f"run {argv[0]} in {name}: container {name} is not running")
        return self.results.get(f"exec {name} {argv[0]}", (0, ""))

    def signal(self, name: str, signal: str) -> None:
        self._call(f"signal {name} {signal}")
        self._get(name)

    def grants(self, name: str) -> Grants | None:
        self._call(f"inspect {name}")
        return self._grants(name) if name in self.stored else None

    def _grants(self, name: str) -> Grants:
        """What the test said the container has, else what it was created with (host
        networking and no privileges for one the test put in)."""
        request = self.stored[name].request
        if name in self.granted:
            return self.granted[name]
        if request is None:
            return Grants("host", False, Privileges())
        return Grants(request.network, False, request.privileges)

    def audited(self, label: str) -> list[tuple[ContainerInfo, Grants]]:
        return [(info, self._grants(info.name)) for info in self.containers(label)]

    def cgroupns_default(self) -> str:
        self._call("info")
        return "private"

    def create_container(self, request: ContainerRequest) -> str:
        self._call(f"create {request.name}")
        if request.name in self.stored:
            raise EngineError(f"create container {request.name}: the name is in use")
        info = ContainerInfo(
            self._next_id(), request.name, "created", None, dict(request.labels),
            request.image, "", 0,
        )  # fmt: skip
        self.stored[request.name] = Stored(info, request, created_here=True)
        return info.id

    def start(self, name: str) -> None:
        self._call(f"start {name}")
        found = self._get(name)
        health = self.health if found.created_here else found.info.health
        found.info = replace(found.info, state="running", health=health, started_at="now")

    def stop(self, name: str, timeout: int = 20) -> None:
        self._call(f"stop {name}")
        found = self._get(name)
        found.info = replace(found.info, state="exited")

    def rename(self, name: str, new_name: str) -> None:
        self._call(f"rename {name} {new_name}")
        if new_name in self.stored:
            raise EngineError(f"rename container {name} to {new_name}: the name is in use")
        found = self.stored.pop(self._get(name).info.name)
        found.info = replace(found.info, name=new_name)
        self.stored[new_name] = found

    def set_cpu_shares(self, name: str, shares: int) -> None:
        self._call(f"cpu-shares {name} {shares}")
        found = self._get(name)
        if found.request is not None:
            found.request = replace(found.request, cpu_shares=shares)

    def remove_container(self, name: str) -> None:
        self._call(f"remove {name}")
        self.stored.pop(name, None)

    def _get(self, name: str) -> Stored:
        found = self.stored.get(name)
        if found is None:
            raise EngineError(f"container {name}: not found")
        return found

    def logs(self, name: str, tail: int | str = "all") -> str:
        self._call(f"logs {name}")
        return f"{name}: a log line\n"

    def follow_logs(self, name: str, tail: int | str = 50) -> Iterator[str]:
        yield self.logs(name, tail)

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
        self._call(f"run {image}")
        code, output = self.results.get(image, (0, ""))
        return RunResult(code, output)

    def run_to_completion(self, request: ContainerRequest) -> tuple[int, str]:
        # As the engine does: a leftover of that name goes first, the run's goes after.
        self._call(f"run {request.name}")
        self.stored.pop(request.name, None)
        with self._lock:
            self.ran.append(request)
            # As the engine does: a named volume the container mounts is made.
            for volume in request.volumes:
                self.volume_labels.setdefault(volume, {})
        return self.results.get(request.name, (0, ""))

    # volumes ----------------------------------------------------------------------------

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self._call(f"volume {name}")
        self.volume_labels.setdefault(name, dict(labels))

    def volumes(self, label: str) -> list[str]:
        self._call(f"volumes {label}")
        return sorted(n for n, labels in self.volume_labels.items() if _matches(labels, label))

    def all_volumes(self) -> list[str]:
        self._call("volumes")
        return sorted(self.volume_labels)

    def remove_volume(self, name: str) -> None:
        self._call(f"remove volume {name}")
        self.volume_labels.pop(name, None)

    # files ------------------------------------------------------------------------------

    def write_directory(self, path: str, files: Sequence[FileEntry], image: str) -> None:
        self._call(f"write {path}")
        if not path.startswith("/"):
            raise EngineError(f"write {path}: expected an absolute path below /")
        self.written.setdefault(path, {}).update({f.name: f for f in files})

    def read_volume(self, volume: str, path: str, image: str) -> Iterator[bytes]:
        """The tar ``volume_data`` holds for the volume; without one, ``path`` as an
        empty file (what a one-shot task "wrote" there: a dump of no rows)."""
        self._call(f"read volume {volume}:{path}")
        if volume not in self.volume_labels:
            raise EngineError(f"read volume {volume}: no such volume")
        if volume in self.volume_data:
            yield self.volume_data[volume]
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.addfile(tarfile.TarInfo(path or "colla-target"))
        yield buffer.getvalue()

    def put_volume(self, volume: str, data: IO[bytes], image: str, replace: bool) -> None:
        self._call(f"put volume {volume}")
        self.volume_data[volume] = data.read()

    def put_files(self, container: str, path: str, data: bytes) -> None:
        self._call(f"put {container}:{path}")
        self._get(container)
        self.put.append((container, path, data))

    # networks ---------------------------------------------------------------------------

    def network(self, name: str) -> dict[str, Any] | None:
        self._call(f"network {name}")
        return self.nets.get(name)

    def create_network(self, name: str, subnet: str, labels: Mapping[str, str]) -> None:
        self._call(f"create network {name}")
        self.nets[name] = {"Name": name, "Subnet": subnet, "Labels": dict(labels)}
        self.nets[name]["Containers"] = {}

    def remove_network(self, name: str) -> None:
        self._call(f"remove network {name}")
        self.nets.pop(name, None)

    def connect_network(self, container: str, network: str, ip: str | None = None) -> None:
        self._call(f"connect {container} {network}")
        info = self._get(container).info
        self.nets[network]["Containers"][info.id] = {"Name": container, "IPv4Address": ip}

    def disconnect_network(self, container: str, network: str) -> None:
        self._call(f"disconnect {container} {network}")
        attached = self.nets.get(network, {}).get("Containers", {})
        for cid in [c for c, e in attached.items() if e.get("Name") == container]:
            del attached[cid]


def task_spec(name: str, node: str, root: Path) -> TaskSpec:
    """A keystone task (backup, migrate, restore, ...) whose config lives below ``root``."""
    return TaskSpec(name, "keystone", node, "img", "sha256:1", str(root / name), ())


if TYPE_CHECKING:

    def _implements(fake: FakeEngine) -> Engine:
        # mypy refuses this when the fake stops satisfying the protocol.
        return fake


def add_upgrade_revision(history: History, service: str, image: str, backup: str = "") -> int:
    """A healthy revision an upgrade left for ``service``'s container of the same name
    on localhost (its spec reduced to what pins read)."""
    return history.add_revision(
        service=service,
        container=service,
        node="localhost",
        operation="upgrade",
        status=RevisionStatus.HEALTHY,
        image=image,
        image_id="sha256:" + image.encode().hex()[:12],
        spec_hash="h",
        spec={"ports": []},
        command="colla upgrade",
        backup=backup,
    )
