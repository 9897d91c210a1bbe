"""Which of the operator's override files reach which rendered file: kolla-ansible's
layout under ``<config-dir>/config/``, in kolla-ansible's order.

A service's main oslo.config file (``overridable: service``: nova.conf, neutron.conf,
keystone.conf, glance-api.conf, placement.conf) is merged, later files winning, from

    global.conf, <project>.conf, <project>/<container>.conf,
    <project>/<host>/<file>, <project>/<host>/<container>.conf

and any other INI file (``overridable: file``: ml2_conf.ini, the agents' .ini, uwsgi
.ini, MariaDB's .cnf) from ``<project>/<file>``, then ``<project>/<host>/<file>``.
``<project>`` is the whole service (``nova`` for nova_compute, ``neutron`` for the
agents), as kolla-ansible's role name is; ``<container>`` is kolla-ansible's name for the
container (``nova-compute``) or colla's (``nova_compute``, applied first). This is the
order of kolla-ansible's ``merge_configs`` tasks (roles nova, nova-cell, neutron,
keystone, glance, placement), with nova-cell's per-host ``<container>.conf`` for every
service. A bootstrap or upgrade task reads the overrides of the container whose image it
runs (nova-cells those of nova-api), as kolla-ansible's bootstrap containers use the
API's config directory.

An override file that reaches no rendered file of any enabled container is refused:
a misspelt container, file or host name would otherwise change nothing, silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from colla.config.ini import parse_override
from colla.errors import BadInput
from colla.model.catalog import ContainerDef, FileDef, TaskDef
from colla.model.services import ServiceCatalog, ServiceDef

if TYPE_CHECKING:
    # For types only: the project checks its overrides with this module at load.
    from colla.project import Project

OVERRIDE_DIR = "config"
# Beyond these, an edit would reach a file colla does not merge section by key.
INI_SUFFIXES = (".conf", ".ini", ".cnf")
# At most this many names in an error's "did you mean" list, so it stays one line.
_HINTS = 6


@dataclass(frozen=True)
class Target:
    """One rendered file an override can reach."""

    service: str
    node: str
    container: str
    file: str
    bare_keys: bool = False


def whole(service: ServiceDef) -> str:
    """The name overrides use for a service: its whole's (kolla-ansible's role name)."""
    return service.part_of or service.name


def keys(owner: TaskDef) -> tuple[str, ...]:
    """The container names ``<project>/<name>.conf`` may use for ``owner``, in order."""
    if not isinstance(owner, ContainerDef):
        return (owner.image,)
    kolla = owner.name.replace("_", "-")
    return (owner.name,) if kolla == owner.name else (owner.name, kolla)


def layers(service: ServiceDef, owner: TaskDef, node: str, file: FileDef) -> tuple[str, ...]:
    """The override paths (relative to ``config/``) of one rendered file, in merge order;
    empty for a file that is not overridable."""
    project = whole(service)
    if file.overridable == "service":
        names = keys(owner)
        found = [
            "global.conf",
            f"{project}.conf",
            *(f"{project}/{k}.conf" for k in names),
            f"{project}/{node}/{file.name}",
            *(f"{project}/{node}/{k}.conf" for k in names),
        ]
    elif file.overridable == "file":
        found = [f"{project}/{file.name}", f"{project}/{node}/{file.name}"]
    else:
        return ()
    # keystone's container is keystone and its file keystone.conf: one path, once.
    return tuple(dict.fromkeys(found))


def sources(
    project: Project, service: ServiceDef, owner: TaskDef, node: str, file: FileDef
) -> list[Path]:
    """The override files present for one rendered file, in merge order."""
    root = project.config_dir / OVERRIDE_DIR
    return [root / p for p in layers(service, owner, node, file) if root / p in project.overrides]


def _rendered(project: Project, service: ServiceDef) -> Iterator[tuple[str, TaskDef, FileDef]]:
    """Every (node, container or task, file) the service renders."""
    for host in service.hosts(project.inventory):
        for container in service.containers:
            for file in container.config:
                yield host.name, container, file
    if not service.hosts(project.inventory):
        return
    first = service.first_host(project.inventory).name
    tasks = (
        *service.bootstrap,
        *service.post_start,
        *service.rotate_keys,
        *service.upgrade.migrate,
        *service.upgrade.contract,
    )
    for task in tasks:
        for file in task.config:
            yield first, task, file


def index(project: Project, catalog: ServiceCatalog, names: set[str]) -> dict[str, list[Target]]:
    """Each possible override path (relative to ``config/``) of services ``names``, with
    the rendered files it would reach."""
    found: dict[str, list[Target]] = {}
    for name in sorted(names):
        service = catalog[name]
        for node, owner, file in _rendered(project, service):
            for path in layers(service, owner, node, file):
                found.setdefault(path, []).append(
                    Target(name, node, owner.name, file.name, file.bare_keys)
                )
    return found


def check_overrides(project: Project, catalog: ServiceCatalog) -> None:
    """Refuse an override file that reaches nothing enabled, naming it; parse the rest."""
    enabled = {n for n in catalog.services if project.globals.enabled.get(n, False)}
    reachable = index(project, catalog, enabled)
    root = project.config_dir / OVERRIDE_DIR
    for path in sorted(project.overrides):
        relative = path.relative_to(root).as_posix()
        if relative not in reachable:
            disabled = index(project, catalog, set(catalog.services) - enabled)
            raise BadInput(f"{path}: {_unmatched(relative, reachable, disabled)}")
        bare = any(t.bare_keys for t in reachable[relative])
        parse_override(project.overrides[path], path, bare)


def _unmatched(
    relative: str, reachable: dict[str, list[Target]], disabled: dict[str, list[Target]]
) -> str:
    """Why an override path reaches nothing, and what would, in a few words."""
    message = "this override reaches no rendered file of any enabled container"
    for target in disabled.get(relative, ()):
        return f"{message} (service {target.service} is not enabled)"
    parent = relative.rpartition("/")[0]
    siblings = sorted({p.rpartition("/")[2] for p in reachable if p.rpartition("/")[0] == parent})
    if not siblings:
        return f"{message} (nothing under config/{parent}/ does: no such service or host)"
    shown = ", ".join(siblings[:_HINTS]) + (", …" if len(siblings) > _HINTS else "")
    return f"{message} (in config/{parent + '/' if parent else ''} colla reads: {shown})"
