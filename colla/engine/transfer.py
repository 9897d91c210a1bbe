"""Moving bytes to and between engines: files into a node's directories, images from one
engine to another, and the lab's networks (mixed into DockerEngine)."""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import docker.errors
import docker.types
import requests.exceptions

from colla.engine.errors import translated
from colla.errors import EngineError

HELPER_MOUNT = "/colla-target"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    """A file to write: its name in the directory, its bytes and its mode."""

    name: str
    content: bytes
    mode: int = 0o660


def files_tar(directory: str, files: Sequence[FileEntry], dir_mode: int = 0o770) -> bytes:
    """A tar of directory ``directory`` (mode ``dir_mode``) holding ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        top = tarfile.TarInfo(directory)
        top.type = tarfile.DIRTYPE
        top.mode = dir_mode
        tar.addfile(top)
        for entry in files:
            info = tarfile.TarInfo(f"{directory}/{entry.name}")
            info.size = len(entry.content)
            info.mode = entry.mode
            tar.addfile(info, io.BytesIO(entry.content))
    return buffer.getvalue()


class TransferMixin:
    """File, image and network calls; needs ``self._client`` (a docker.DockerClient)."""

    _client: Any

    def write_directory(self, path: str, files: Sequence[FileEntry], image: str) -> None:
        """Make directory ``path`` on the engine's machine hold ``files`` (others are left).

        A remote machine's files are reachable only through its engine: a container of
        ``image`` (any image the node has) is created, never started, with ``path`` bound
        in, and the files are put through it.
        """
        api = self._client.api
        name = f"colla-files-{uuid.uuid4().hex[:12]}"
        parent, _, leaf = path.rstrip("/").rpartition("/")
        if not parent.startswith("/") or not leaf:
            raise EngineError(f"write {path}: expected an absolute path below /")
        with translated(f"write {path}"):
            # The parent is bound, so that the directory itself gets its mode from the tar.
            host_config = api.create_host_config(binds=[f"{parent}:{HELPER_MOUNT}"])
            api.create_container(
                image, name=name, command=["true"], host_config=host_config, labels={}
            )
            try:
                if not api.put_archive(name, HELPER_MOUNT, files_tar(leaf, files)):
                    raise EngineError(f"write {path}: the engine refused the files")
            finally:
                with contextlib.suppress(docker.errors.DockerException):
                    api.remove_container(name, force=True)

    def read_volume(self, volume: str, path: str, image: str) -> Iterator[bytes]:
        """A tar stream of ``path`` inside ``volume`` ("" or "." for all of it), read
        through a container of ``image`` that is created, never started, and removed."""
        api = self._client.api
        name = f"colla-files-{uuid.uuid4().hex[:12]}"
        inside = f"{HELPER_MOUNT}/{path}".rstrip("/.") if path not in ("", ".") else HELPER_MOUNT
        with translated(f"read volume {volume}"):
            host_config = api.create_host_config(binds=[f"{volume}:{HELPER_MOUNT}"])
            api.create_container(
                image, name=name, command=["true"], host_config=host_config, labels={}
            )
            try:
                stream, _ = api.get_archive(name, inside, chunk_size=CHUNK)
                yield from stream
            finally:
                with contextlib.suppress(docker.errors.DockerException):
                    api.remove_container(name, force=True)

    def put_volume(self, volume: str, data: IO[bytes], image: str, replace: bool) -> None:
        """Extract the tar ``data`` into ``volume``: at its root (members named
        ``colla-target/…``, as ``read_volume`` of the whole volume gives them); with
        ``replace``, what it held is removed first. Done through a container of
        ``image`` that empties the volume (or does nothing), then takes the tar."""
        api = self._client.api
        name = f"colla-files-{uuid.uuid4().hex[:12]}"
        empty = ["find", HELPER_MOUNT, "-mindepth", "1", "-delete"]
        with translated(f"fill volume {volume}"):
            host_config = api.create_host_config(binds=[f"{volume}:{HELPER_MOUNT}"])
            api.create_container(
                image,
                name=name,
                command=empty if replace else ["true"],
                user="root",
                host_config=host_config,
                labels={},
            )
            try:
                api.start(name)
                code = int(api.wait(name).get("StatusCode", -1))
                if code != 0:
                    raise EngineError(f"fill volume {volume}: emptying it failed ({code})")
                if not api.put_archive(name, "/", data):
                    raise EngineError(f"fill volume {volume}: the engine refused the files")
            finally:
                with contextlib.suppress(docker.errors.DockerException):
                    api.remove_container(name, force=True)

    def put_files(self, container: str, path: str, data: bytes) -> None:
        """Extract the tar ``data`` at ``path`` in a (created or running) container."""
        with translated(f"copy files into {container}:{path}"):
            if not self._client.api.put_archive(container, path, data):
                raise EngineError(f"copy files into {container}: the engine refused them")

    def save_image(self, ref: str) -> Iterator[bytes]:
        """``docker save ref`` as a stream of chunks (nothing held in memory or on disk)."""
        with translated(f"save image {ref}"):
            response = self._client.api.get_image(ref, chunk_size=CHUNK)
            yield from response

    def load_image(self, stream: Iterable[bytes]) -> list[str]:
        """``docker load`` from a stream of chunks; returns what the engine said it loaded."""
        loaded: list[str] = []
        with translated("load image"):
            for chunk in self._client.api.load_image(stream, quiet=True):
                if "error" in chunk:
                    raise EngineError(f"load image: {chunk['error']}")
                text = str(chunk.get("stream", "")).strip()
                if text:
                    loaded.append(text)
        return loaded

    # networks ---------------------------------------------------------------------------

    def network(self, name: str) -> dict[str, Any] | None:
        """Inspect a network; None when there is none."""
        try:
            return dict(self._client.api.inspect_network(name))
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"inspect network {name}: {e}") from e

    def create_network(self, name: str, subnet: str, labels: Mapping[str, str]) -> None:
        """A user-defined bridge with a fixed subnet."""
        api = self._client.api
        with translated(f"create network {name} ({subnet})"):
            pool = docker.types.IPAMPool(subnet=subnet)
            ipam = docker.types.IPAMConfig(pool_configs=[pool])
            api.create_network(name, driver="bridge", ipam=ipam, labels=dict(labels))

    def networks(self, label: str) -> list[str]:
        """Names of the networks carrying ``label``."""
        with translated(f"list networks labelled {label}"):
            found = self._client.api.networks(filters={"label": label})
        return sorted(n["Name"] for n in found)

    def remove_network(self, name: str) -> None:
        """Remove a network; a missing one is fine."""
        try:
            self._client.api.remove_network(name)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"remove network {name}: {e}") from e

    def connect_network(self, container: str, network: str, ip: str | None = None) -> None:
        """Attach a container to a network (at a fixed address when ``ip`` is given)."""
        with translated(f"connect {container} to network {network}"):
            self._client.api.connect_container_to_network(container, network, ipv4_address=ip)

    def disconnect_network(self, container: str, network: str) -> None:
        """Detach a container from a network; one already gone is fine."""
        try:
            self._client.api.disconnect_container_from_network(container, network, force=True)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"disconnect {container} from network {network}: {e}") from e
