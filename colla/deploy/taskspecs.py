"""Building specs from catalog steps: image references, volumes, the config.json of the
start contract, and one-shot task specs. Shared by the desired state (containers,
bootstrap steps) and the infrastructure tasks (colla.deploy.infra)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from colla.deploy.templates import ServiceRenderer
from colla.model.catalog import PermissionDef, TaskDef
from colla.model.specs import CONFIG_MOUNT, RenderedFile, TaskSpec
from colla.project import Project


def image_ref(project: Project, image: str, tag: str | None = None) -> str:
    """The full name of a service image, from globals (registry, namespace, tag)."""
    g = project.globals
    prefix = f"{g.docker_registry}/" if g.docker_registry else ""
    return f"{prefix}{g.docker_namespace}/{image}:{tag or g.image_tag}"


def config_json(
    command: str,
    files: list[RenderedFile],
    permissions: tuple[PermissionDef, ...],
    user: str | None,
) -> RenderedFile:
    """The start contract's config.json: the command, and where colla-start installs
    each rendered file."""
    data: dict[str, Any] = {
        "command": command,
        "config_files": [
            {"source": f"{CONFIG_MOUNT}/{f.name}", "dest": f.dest, "owner": f.owner, "perm": f.perm}
            for f in files
        ],
        "permissions": [p.model_dump(exclude_none=True) for p in permissions],
    }
    if user:
        data["user"] = user
    return RenderedFile("config.json", "", "root", "0600", json.dumps(data, indent=2) + "\n")


def volumes(project: Project, named: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Volume name → mount path, each name under the deployment's volume prefix."""
    prefix = project.globals.colla_volume_prefix
    return tuple(sorted((prefix + name, path) for name, path in named.items()))


@dataclass(frozen=True)
class Run:
    """What a task runs: its command, as which user, on which paths' permissions."""

    command: str
    user: str | None = "root"
    permissions: tuple[PermissionDef, ...] = ()


def task_spec(
    project: Project,
    where: tuple[str, str, str],
    image: str,
    files: list[RenderedFile],
    run: Run,
    named_volumes: Mapping[str, str] | None = None,
    tag: str | None = None,
) -> TaskSpec:
    """A task spec: ``where`` is (name, service, node)."""
    name, service, node = where
    return TaskSpec(
        name=name,
        service=service,
        node=node,
        image=image_ref(project, image, tag),
        image_id="",
        config_dir=str(project.config_dir / name),
        files=(*files, config_json(run.command, files, run.permissions, run.user)),
        volumes=volumes(project, named_volumes or {}),
    )


def catalog_task(r: ServiceRenderer, project: Project, node: str, item: TaskDef) -> TaskSpec:
    """A task the catalog declares (a bootstrap, post-start or upgrade step)."""
    wanted = [f for f in item.config if r.wanted(f, node, item)]
    files = [r.file(f, node, item) for f in wanted] + r.ca_files()
    return task_spec(
        project,
        (item.name, r.service.name, node),
        item.image,
        files,
        Run(item.command, item.user, item.permissions),
        item.volumes,
        r.tag,
    )
