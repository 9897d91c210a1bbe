"""What colla needs of one node's engine: the calls the library makes, and nothing else.

The library is written against this protocol; :class:`colla.engine.DockerEngine` is the
one implementation that talks to a daemon, and unit tests use an in-memory one. Every
failure is an :class:`colla.errors.EngineError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from colla.engine.client import BuildRequest, ImageInfo, RunResult
from colla.engine.containers import ContainerInfo, ContainerRequest, Grants
from colla.engine.transfer import FileEntry

LineSink = Callable[[str], None]


class Engine(Protocol):
    """One node's container engine; ``remote`` when it runs on another machine (its files
    are then reachable only through it)."""

    @property
    def url(self) -> str:
        """Where the engine answers (``local`` for this machine's)."""
        ...

    @property
    def remote(self) -> bool:
        """Whether the engine runs on another machine."""
        ...

    def docker_root(self) -> str:
        """The engine's data directory (for the disk check)."""
        ...

    # images

    def image(self, ref: str) -> ImageInfo | None:
        """Inspect ``ref``; None when the engine has no such image."""
        ...

    def images(self, label: str) -> list[ImageInfo]:
        """Every image carrying ``label`` (``key`` or ``key=value``)."""
        ...

    def build(self, request: BuildRequest, on_line: LineSink) -> str:
        """Build an image, streaming its output lines; return the image ID."""
        ...

    def import_tarball(
        self, tarball: Path, repository: str, tag: str, changes: Sequence[str]
    ) -> str:
        """Import a root filesystem tarball as ``repository:tag``; return the image ID."""
        ...

    def pull(self, ref: str) -> str:
        """Pull ``ref`` from its registry; return the image ID."""
        ...

    def tag(self, ref: str, repository: str, tag: str) -> None:
        """Give ``ref`` the name ``repository:tag``."""
        ...

    def push(self, repository: str, tag: str, on_line: LineSink) -> None:
        """Push ``repository:tag`` to the registry its name points at."""
        ...

    def remove_image(self, ref: str) -> None:
        """Remove an image name (and the image when no other name holds it)."""
        ...

    def save_image(self, ref: str) -> Iterator[bytes]:
        """The image as a stream of tar chunks."""
        ...

    def load_image(self, stream: Iterable[bytes]) -> list[str]:
        """Load images from a stream of tar chunks; what the engine said it loaded."""
        ...

    # containers

    def containers(self, label: str) -> list[ContainerInfo]:
        """Every container (running or not) carrying ``label``."""
        ...

    def container(self, name: str) -> ContainerInfo | None:
        """Inspect a container by name or ID; None when there is none."""
        ...

    def grants(self, name: str) -> Grants | None:
        """What a container was granted; None when there is none."""
        ...

    def audited(self, label: str) -> list[tuple[ContainerInfo, Grants]]:
        """Every container carrying ``label``, with its grants."""
        ...

    def cgroupns_default(self) -> str:
        """The cgroup namespace a container that asks for none gets."""
        ...

    def create_container(self, request: ContainerRequest) -> str:
        """Create (not start) a container; return its ID."""
        ...

    def start(self, name: str) -> None:
        """Start a created or stopped container."""
        ...

    def stop(self, name: str, timeout: int = 20) -> None:
        """Stop a container, killing it after ``timeout`` seconds."""
        ...

    def rename(self, name: str, new_name: str) -> None:
        """Give a container another name."""
        ...

    def set_cpu_shares(self, name: str, shares: int) -> None:
        """Change a running container's CPU weight (Docker's cpu-shares)."""
        ...

    def remove_container(self, name: str) -> None:
        """Remove a container (stopping it if needed); a missing one is fine."""
        ...

    def probe_health(self, name: str) -> bool | None:
        """Run the container's own healthcheck once, now: True when it passes, False
        when it fails or the container is not running, None when it declares none."""
        ...

    def exec(self, name: str, argv: Sequence[str]) -> tuple[int, str]:
        """Run ``argv`` as root in a running container: its exit code and output."""
        ...

    def signal(self, name: str, signal: str) -> None:
        """Send ``signal`` (``SIGHUP``...) to a container's main process."""
        ...

    def logs(self, name: str, tail: int | str = "all") -> str:
        """A container's output so far."""
        ...

    def follow_logs(self, name: str, tail: int | str = 50) -> Iterator[str]:
        """A container's output until it stops."""
        ...

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
        """Run an unnamed container of ``image`` to completion and remove it."""
        ...

    def run_to_completion(self, request: ContainerRequest) -> tuple[int, str]:
        """Run a named one-shot container and remove it; its exit code and output."""
        ...

    # volumes

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        """Create a named volume (a no-op when it exists)."""
        ...

    def volumes(self, label: str) -> list[str]:
        """Names of the volumes carrying ``label``."""
        ...

    def all_volumes(self) -> list[str]:
        """Names of every volume."""
        ...

    def remove_volume(self, name: str) -> None:
        """Remove a named volume; a missing one is fine."""
        ...

    # files

    def write_directory(self, path: str, files: Sequence[FileEntry], image: str) -> None:
        """Make directory ``path`` on the engine's machine hold ``files``."""
        ...

    def read_volume(self, volume: str, path: str, image: str) -> Iterator[bytes]:
        """A tar stream of ``path`` inside ``volume`` ("" for all of it)."""
        ...

    def put_volume(self, volume: str, data: IO[bytes], image: str, replace: bool) -> None:
        """Extract the tar ``data`` (members ``colla-target/…``) into ``volume``; with
        ``replace``, what it held goes first."""
        ...

    def put_files(self, container: str, path: str, data: bytes) -> None:
        """Extract the tar ``data`` at ``path`` in a container."""
        ...

    # networks

    def network(self, name: str) -> dict[str, Any] | None:
        """Inspect a network; None when there is none."""
        ...

    def create_network(self, name: str, subnet: str, labels: Mapping[str, str]) -> None:
        """A user-defined bridge with a fixed subnet."""
        ...

    def remove_network(self, name: str) -> None:
        """Remove a network; a missing one is fine."""
        ...

    def connect_network(self, container: str, network: str, ip: str | None = None) -> None:
        """Attach a container to a network."""
        ...

    def disconnect_network(self, container: str, network: str) -> None:
        """Detach a container from a network; one already gone is fine."""
        ...
