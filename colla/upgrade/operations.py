"""Building upgrade and rollback plans from the project and its history."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import replace

from colla.deploy.deployment import Desired, DesiredOptions, desired, engines_for, render
from colla.deploy.infra import backup_tasks, upgrade_tasks
from colla.engine import Engine
from colla.errors import BadInput, CollaError
from colla.history.pins import current_revisions, history_options
from colla.history.store import History, Revision, RevisionStatus
from colla.model.catalog import ALT_PORT_OFFSET
from colla.model.specs import LABEL_HASH, ContainerSpec, TaskSpec, spec_from_dict
from colla.site import Site
from colla.upgrade.preview import running_hashes
from colla.upgrade.swap import SwapPlan, record_revision


def _haproxy(
    wanted: Desired, service: str, alt: bool
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """Backends and servers (old slot, new slot) of a service's APIs."""
    found = []
    hosts = wanted.catalog[service].hosts(wanted.project.inventory)
    for container in wanted.catalog[service].containers:
        if container.api_port:
            backend = container.name.replace("_", "-")
            a = tuple(f"{backend}-a-{i}" for i in range(1, len(hosts) + 1))
            b = tuple(f"{backend}-b-{i}" for i in range(1, len(hosts) + 1))
            found.append((backend, b, a) if not alt else (backend, a, b))
    return tuple(found)


def overlaps(site: Site, service: str) -> bool:
    """Behind HAProxy, an API service swaps with both versions up for a moment."""
    return bool(site.project.globals.enabled.get("haproxy")) and any(
        c.api_port for c in site.catalog[service].containers
    )


def _stop_timeout(wanted: Desired, service: str) -> int:
    """No grace for a stateless API (its stop is the gap); the usual for the rest."""
    return 0 if any(c.api_port for c in wanted.catalog[service].containers) else 20


def _resolve(engines: Mapping[str, Engine], tasks: tuple[TaskSpec, ...]) -> tuple[TaskSpec, ...]:
    resolved = []
    for task in tasks:
        engine = engines.get(task.node)
        if engine is None:
            raise BadInput(
                f"--limit leaves out node {task.node}, where {task.service}'s "
                f"step {task.name} runs: include it"
            )
        info = engine.image(task.image)
        if info is None:
            raise BadInput(f"image {task.image} is missing: build it (colla build --tag ...)")
        resolved.append(replace(task, image_id=info.id))
    return tuple(resolved)


def _service_specs(wanted: Desired, service: str) -> tuple[ContainerSpec, ...]:
    return tuple(
        spec
        for node in wanted.nodes.values()
        for spec in node.containers
        if spec.service == service
    )


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def upgrade_plan(
    site: Site,
    engine: Engine,
    history: History,
    service: str,
    tag: str,
    command: str,
    limit: frozenset[str] | None = None,
    engines: Mapping[str, Engine] | None = None,
) -> SwapPlan:
    """The swap of ``service`` to image tag ``tag`` on every node (or those of ``limit``);
    bad input raises before any change. ``engines`` are the nodes' engines when a
    session has them connected already."""
    if service not in site.catalog.services:
        known = ", ".join(sorted(site.catalog.services))
        raise BadInput(f"unknown service '{service}' (known: {known})")
    if not site.project.globals.enabled.get(service):
        raise BadInput(f"service '{service}' is not enabled in {site.config_dir / 'globals.yml'}")
    only = frozenset({service})
    kept = replace(history_options(history, site.project.globals.image_tag), limit=limit, only=only)
    pinned, slots = kept.node_tags, kept.alt
    overlap = overlaps(site, service)
    # Behind HAProxy the new version takes the other slot, so both can run at once.
    new_slots = slots ^ {service} if overlap else slots
    others = {key: value for key, value in pinned.items() if key[1] != service}
    options = DesiredOptions(
        tags={service: tag}, alt=new_slots, limit=limit, node_tags=others, only=only
    )
    # Only the upgraded service is rendered, at its new tag and slot, and once: as it
    # runs now it is rendered only to adopt containers that history does not know.
    every = render(site, options)
    engines = dict(engines) if engines is not None else engines_for(site.project, engine, limit)
    new = [
        s
        for node in every.values()
        for s in node.containers
        if s.node in engines and s.service == service
    ]
    if not new:
        raise BadInput(f"service '{service}' runs on none of the nodes of --limit")
    for node, ref in sorted({(s.node, s.image) for s in new}):
        on = engines[node]
        if on.image(ref) is None and site.project.globals.docker_registry:
            on.pull(ref)
        if on.image(ref) is None:
            where = f" on node {node}" if on.remote else ""
            raise BadInput(
                f"no image {ref}{where} for --tag {tag}: build it first (colla build --tag {tag})"
            )
    recorded = current_revisions(history, service)
    if any((s.node, s.name) not in recorded for s in new):
        adopt_running(history, engines, desired(site, engine, kept, engines), service, command)
    wanted = desired(site, engine, options, engines, every)
    migrate, contract = upgrade_tasks(wanted.project, wanted.catalog, wanted.topology, service, tag)
    backup = restore = schema = None
    name = ""
    if wanted.catalog[service].databases:
        name = f"{service}-{_stamp()}"
        made = backup_tasks(wanted.project, wanted.catalog, wanted.topology, service, name)
        backup, restore, schema = _resolve(engines, made)
    plan = SwapPlan(
        kind="upgrade",
        service=service,
        new=_service_specs(wanted, service),
        backup=backup,
        restore=restore,
        migrate=_resolve(engines, migrate),
        contract=_resolve(engines, contract),
        command=command,
        backup_name=name,
        overlap=overlap,
        haproxy=_haproxy(wanted, service, service in new_slots) if overlap else (),
        schema=schema,
        stop_timeout=_stop_timeout(wanted, service),
    )
    return plan


def rollback_plan(
    site: Site,
    engine: Engine,
    history: History,
    service: str,
    to: int | None,
    command: str,
    limit: frozenset[str] | None = None,
    engines: Mapping[str, Engine] | None = None,
) -> tuple[SwapPlan, Revision | None]:
    """The swap of ``service`` back to a revision on every node (or those of ``limit``),
    and the dump it restores (if any). ``engines`` are the nodes' engines when a
    session has them connected already."""
    if service not in site.catalog.services:
        raise BadInput(f"unknown service '{service}'")
    only = frozenset({service})
    current = desired(site, engine, DesiredOptions(limit=limit, only=only), engines)
    engines = current.engines
    revisions = history.revisions(service)
    now = {
        key: revision
        for key, revision in current_revisions(history, service).items()
        if key[0] in engines
    }
    if not now:
        raise BadInput(f"service '{service}' has no recorded revision to roll back from")
    targets: list[Revision] = []
    for (node, container), present in sorted(now.items()):
        if to is not None:
            target = next((r for r in revisions if r.id == to), None)
            if target is None:
                raise BadInput(f"revision {to} does not exist for service '{service}'")
            if target.container != container:
                continue
        else:
            older = [
                r
                for r in revisions
                if r.container == container
                and r.node == node
                and r.id < present.id
                and r.status == RevisionStatus.HEALTHY
                and r.spec_hash != present.spec_hash
            ]
            if not older:
                raise BadInput(f"{container} has no earlier healthy revision to roll back to")
            target = older[-1]
        if target.id == present.id:
            raise BadInput(f"revision {target.id} is the one running already")
        if engines[node].image(target.image_id) is None:
            raise CollaError(f"image {target.image_id[7:19]} of revision {target.id} is gone")
        targets.append(target)
    if not targets:
        raise BadInput(f"revision {to} is not a revision of a container of '{service}'")
    # The earliest undone change of the schema decides which dump to restore.
    undone = [
        r
        for r in revisions
        if r.id > min(t.id for t in targets)
        and r.status == RevisionStatus.HEALTHY
        and r.migrated
        and r.backup
    ]
    dump = undone[0] if undone else None
    backup = restore = restore_old = None
    name = ""
    if dump is not None:
        name = f"{service}-{_stamp()}"
        backup, restore, _ = backup_tasks(
            current.project, current.catalog, current.topology, service, name
        )
        _, restore_old, _ = backup_tasks(
            current.project, current.catalog, current.topology, service, dump.backup
        )
        backup, restore, restore_old = _resolve(engines, (backup, restore, restore_old))
    new = tuple(spec_from_dict(t.spec) for t in targets)
    running = running_hashes(engines)
    old_ports = {
        spec_from_dict(r.spec).ports for r in now.values() if r.spec_hash in running.values()
    }
    # Overlap only when the target listens on the other slot and no dump is restored
    # (a restore needs the old version stopped).
    overlap = (
        overlaps(site, service)
        and restore_old is None
        and all(spec.ports not in old_ports for spec in new)
    )
    alt = any(p >= ALT_PORT_OFFSET for spec in new for p in spec.ports)
    plan = SwapPlan(
        kind="rollback",
        service=service,
        new=new,
        backup=backup,
        restore=restore,
        restore_before_start=restore_old,
        restore_dump=dump.backup if dump is not None else "",
        command=command,
        backup_name=name,
        overlap=overlap,
        haproxy=_haproxy(current, service, alt) if overlap else (),
        stop_timeout=_stop_timeout(current, service),
    )
    return plan, dump


def adopt_running(
    history: History, engines: Mapping[str, Engine], wanted: Desired, service: str, command: str
) -> None:
    """Record the running containers of a service that history does not know yet.

    A cloud deployed before history existed (or by Compose) can then be rolled back to.
    Only containers whose running spec is exactly the desired one are adopted.
    """
    known = current_revisions(history, service)
    for spec in _service_specs(wanted, service):
        if (spec.node, spec.name) in known:
            continue
        running = engines[spec.node].container(spec.name)
        if running is None or running.labels.get(LABEL_HASH) != spec.spec_hash:
            continue
        record_revision(
            history,
            spec,
            operation="deploy",
            status=RevisionStatus.HEALTHY,
            note="adopted: running before history recorded it",
            command=command,
        )


def reconfigure_plan(
    site: Site,
    engine: Engine,
    history: History,
    service: str,
    command: str,
    engines: Mapping[str, Engine],
) -> SwapPlan | None:
    """The swap of ``service``'s containers whose rendering changed to what ``site``
    renders now, at the images they run (history's tags and slots): a changed config,
    rolled over like an upgrade but with no database step. Behind HAProxy, a changed
    API starts on the other slot beside the old one. None when nothing changed.

    Only the changed containers are swapped: the others (a hypervisor with its guests)
    keep running."""
    kept = replace(
        history_options(history, site.project.globals.image_tag), only=frozenset({service})
    )
    running = running_hashes(engines)
    here = desired(site, engine, kept, engines)
    changed = {
        (s.node, s.name)
        for s in _service_specs(here, service)
        if running.get((s.node, s.name)) != s.spec_hash
    }
    if not changed:
        return None
    apis = {c.name for c in site.catalog[service].containers if c.api_port}
    overlap = overlaps(site, service) and any(name in apis for _, name in changed)
    slots = kept.alt ^ {service} if overlap else kept.alt
    wanted = desired(site, engine, replace(kept, alt=slots), engines) if overlap else here
    return SwapPlan(
        kind="reconfigure",
        service=service,
        new=tuple(s for s in _service_specs(wanted, service) if (s.node, s.name) in changed),
        backup=None,
        restore=None,
        command=command,
        overlap=overlap,
        haproxy=_haproxy(wanted, service, service in slots) if overlap else (),
        stop_timeout=_stop_timeout(wanted, service),
    )
