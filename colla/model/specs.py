"""Desired state: the container and task specs of every node, with their rendered files.

A spec is a value: it carries everything a container is created from, and a hash of all
of it, rendered config contents included. Diffing desired and observed compares hashes;
the public part of a spec (no file contents, so no secrets) travels in a label.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from colla.config.globals import DOCKER_LOG_MAX_FILE, DOCKER_LOG_MAX_SIZE
from colla.model.privileges import Privileges

LABEL_MANAGED = "colla.managed"
LABEL_NAME = "colla.name"
LABEL_SERVICE = "colla.service"
LABEL_NODE = "colla.node"
LABEL_HASH = "colla.spec-hash"
LABEL_SPEC = "colla.spec"
LABEL_TASK = "colla.task"  # on a one-shot task's container: the task's name
TASK_PREFIX = "colla-task-"  # a task's container: this, then the task's name
# Where a container reads its rendered config directory (bound read-only).
CONFIG_MOUNT = "/var/lib/colla/config"


def digest(text: str | bytes) -> str:
    """A short content digest, used for hashes and change reasons."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def secret_digest(key: str, value: str) -> str:
    """What a container's labels say of a password it uses: enough to tell that it
    changed, never the value.

    Unsalted, so a label reader could test guesses against it. That exposes no more than
    the config file digests beside it (each file's content, password included, hashed
    the same way), generated passwords (190 random bits) cannot be guessed, and reading
    labels takes access to the Docker API, which reads the config files anyway.
    """
    return digest(f"colla-password\0{key}\0{value}")


@dataclass(frozen=True)
class RenderedFile:
    """A config file as colla-start installs it; ``content`` may hold secrets."""

    name: str
    dest: str
    owner: str
    perm: str
    content: str = field(repr=False)
    # The override files merged into it, in order: (path under the config dir, digest).
    overrides: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Healthcheck:
    """A Docker healthcheck (``CMD-SHELL``), times in seconds."""

    test: str
    interval: int
    timeout: int
    retries: int
    start_period: int


@dataclass(frozen=True)
class LogLimits:
    """Docker's json-file log rotation: at most ``max_file`` files of ``max_size`` each."""

    max_size: str = DOCKER_LOG_MAX_SIZE
    max_file: int = DOCKER_LOG_MAX_FILE


@dataclass(frozen=True)
class Reload:
    """How a running container takes changed config files (catalog ``reload``): after
    ``check`` (an argv; empty: none) passed, ``signal`` to its main process or
    ``command`` (an argv) run in it; ``files``: those it can take so (empty: any)."""

    signal: str | None = None
    command: tuple[str, ...] = ()
    check: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """A one-shot bootstrap container: runs to completion from a service's image."""

    name: str
    service: str
    node: str
    image: str
    image_id: str
    config_dir: str
    files: tuple[RenderedFile, ...]
    volumes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ContainerSpec(TaskSpec):
    """One long-running container on one node: a task that stays up, checked for health."""

    environment: tuple[tuple[str, str], ...] = ()
    healthcheck: Healthcheck | None = None
    privileges: Privileges = field(default_factory=Privileges)
    restart: str = "unless-stopped"
    ports: tuple[int, ...] = ()
    log: LogLimits = LogLimits()
    # passwords.yml key → secret_digest of each password the container uses: its files
    # hold them, or its service's bootstrap sets them (keystone's admin password), so a
    # changed one recreates it, runs that bootstrap again, and the plan can say which.
    secrets: tuple[tuple[str, str], ...] = ()
    # Not in the public spec nor its hash: how a change is applied, not what runs.
    reload: Reload | None = None

    def public(self) -> dict[str, Any]:
        """The spec without file contents: safe for labels, plans and logs."""
        overrides = {path: d for f in self.files for path, d in f.overrides}
        data: dict[str, Any] = {
            "image": self.image,
            "image_id": self.image_id,
            "config_dir": self.config_dir,
            "files": {
                f.name: digest(json.dumps([f.dest, f.owner, f.perm, f.content])) for f in self.files
            },
            "volumes": dict(self.volumes),
            "environment": dict(self.environment),
            "healthcheck": None if self.healthcheck is None else vars(self.healthcheck),
            "privileges": self.privileges.to_json(),
            "restart": self.restart,
            # In the hash like the rest: Docker fixes a container's log options when it
            # is created, so a new size or count recreates the containers.
            "log": vars(self.log),
            # Which override files fed the files: the plan names the one that changed.
            # Only when there are any, so that other specs' hashes stay as they were.
            **({"overrides": overrides} if overrides else {}),
        }
        # Left out when empty: a container without passwords keeps the hash it had
        # before colla recorded them.
        if self.secrets:
            data["secrets"] = dict(self.secrets)
        return data

    @property
    def spec_hash(self) -> str:
        """A digest of the whole spec, rendered config contents included.

        Not of the override files themselves: what they change is in the files' digests,
        so an override that changes no file (a comment, a value equal to colla's) leaves
        the container alone.
        """
        public = self.public()
        public.pop("overrides", None)
        return digest(json.dumps(public, sort_keys=True))

    def labels(self) -> dict[str, str]:
        """The labels the container is created with."""
        return {
            LABEL_MANAGED: "true",
            LABEL_NAME: self.name,
            LABEL_SERVICE: self.service,
            LABEL_NODE: self.node,
            LABEL_HASH: self.spec_hash,
            LABEL_SPEC: json.dumps(self.public(), sort_keys=True),
        }


@dataclass(frozen=True)
class NodeSpecs:
    """What one node should run."""

    node: str
    containers: tuple[ContainerSpec, ...]
    tasks: Mapping[str, tuple[TaskSpec, ...]]  # service → its bootstrap tasks, in order
    # service → steps run once its containers are healthy (after a bootstrap)
    post: Mapping[str, tuple[TaskSpec, ...]] = field(default_factory=dict)
    # service → how many of its leading bootstrap tasks run early: before the services
    # it depends on are ready, once those its early steps need are (see ServiceDef).
    early: Mapping[str, int] = field(default_factory=dict)

    def with_config(self) -> tuple[TaskSpec, ...]:
        """Every container and task of the node: each has a config directory."""
        tasks = (
            t for by_service in (self.tasks, self.post) for ts in by_service.values() for t in ts
        )
        return (*self.containers, *tasks)


def spec_to_dict(spec: ContainerSpec) -> dict[str, Any]:
    """The whole spec, file contents included, as JSON-ready data (for history)."""
    return asdict(spec)


def spec_from_dict(data: dict[str, Any]) -> ContainerSpec:
    """Rebuild a spec stored by :func:`spec_to_dict`."""
    health = data.get("healthcheck")
    task = task_from_dict(data)
    return ContainerSpec(
        **{f.name: getattr(task, f.name) for f in fields(TaskSpec)},
        environment=tuple((str(a), str(b)) for a, b in data["environment"]),
        healthcheck=Healthcheck(**health) if health else None,
        privileges=Privileges.from_json(data.get("privileges") or {}),
        restart=data["restart"],
        ports=tuple(data["ports"]),
        # Revisions recorded before logs were bounded get the default bound.
        log=LogLimits(**data["log"]) if data.get("log") else LogLimits(),
        secrets=tuple((str(a), str(b)) for a, b in data.get("secrets") or ()),
        reload=_reload_from_dict(data.get("reload")),
    )


def _reload_from_dict(data: Any) -> Reload | None:
    if not isinstance(data, dict):
        return None
    words = {k: tuple(str(a) for a in data.get(k) or ()) for k in ("command", "check", "files")}
    return Reload(data.get("signal"), **words)


def task_from_dict(data: dict[str, Any]) -> TaskSpec:
    """Rebuild a task stored with ``dataclasses.asdict``."""
    return TaskSpec(
        name=data["name"],
        service=data["service"],
        node=data["node"],
        image=data["image"],
        image_id=data["image_id"],
        config_dir=data["config_dir"],
        files=tuple(_file_from_dict(f) for f in data["files"]),
        volumes=tuple((str(a), str(b)) for a, b in data["volumes"]),
    )


def _file_from_dict(data: dict[str, Any]) -> RenderedFile:
    # JSON turned the pairs into lists; revisions from before overrides were recorded
    # have none.
    overrides = tuple((str(p), str(d)) for p, d in data.get("overrides") or ())
    return RenderedFile(**{**data, "overrides": overrides})
