"""The plan's steps beside its container changes: volumes to create, config directories
to write, and bootstrap tasks to run.

They used to be decided by the applier from the desired specs as it went, so ``colla
plan`` could not show them. They are computed here, purely, from the desired specs, the
container changes and what was observed (each node's volumes, and this machine's config
directories that differ from what colla renders); the applier runs them and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from colla.model.specs import NodeSpecs, TaskSpec


class StepKind(enum.StrEnum):
    """What a step does."""

    VOLUME = "create volume"
    CONFIG = "write config"
    # A bootstrap task that runs before the service's dependencies are all ready.
    EARLY = "early bootstrap"
    TASK = "bootstrap"
    POST = "after start"


@dataclass(frozen=True)
class Step:
    """One step on one node: ``target`` is the volume, the config directory's container
    or task, or the task to run; ``spec`` the task or container it is for (None for a
    volume)."""

    kind: StepKind
    node: str
    service: str
    target: str
    reason: str
    spec: TaskSpec | None = None


@dataclass(frozen=True)
class Touched:
    """The container changes that steps follow from: per node, the containers to create,
    recreate or start, the services whose containers are created or recreated (their
    bootstrap runs again), and per node the containers to reload."""

    containers: Mapping[str, frozenset[str]]
    bootstrap: frozenset[str]
    # Per node, the containers that take their new files by a reload.
    reloads: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _tasks(specs: NodeSpecs) -> Iterable[tuple[StepKind, str, TaskSpec]]:
    for service, steps in specs.tasks.items():
        early = specs.early.get(service, 0)
        for index, task in enumerate(steps):
            yield (StepKind.EARLY if index < early else StepKind.TASK), service, task
    for service, steps in specs.post.items():
        for task in steps:
            yield StepKind.POST, service, task


def volume_steps(
    desired: Mapping[str, NodeSpecs], volumes: Mapping[str, frozenset[str]]
) -> list[Step]:
    """A step per volume a node's containers or tasks mount and its engine lacks."""
    steps = []
    for node, specs in desired.items():
        wanted: dict[str, str] = {}
        for container in specs.containers:
            wanted.update((v, container.service) for v, _ in container.volumes)
        for _, service, task in _tasks(specs):
            for volume, _ in task.volumes:
                wanted.setdefault(volume, service)
        existing = volumes.get(node, frozenset())
        for volume in sorted(set(wanted) - existing):
            steps.append(Step(StepKind.VOLUME, node, wanted[volume], volume, "missing"))
    return steps


def config_steps(
    desired: Mapping[str, NodeSpecs], touched: Touched, drifted: Mapping[str, frozenset[str]]
) -> list[Step]:
    """A step per config directory to write: those of containers to create, recreate or
    start, of the bootstrap tasks that run, and those on this machine whose files differ
    from what colla renders (``drifted``: directories by path)."""
    steps = []
    for node, specs in desired.items():
        changed = touched.containers.get(node, frozenset())
        reloads = touched.reloads.get(node, frozenset())
        differ = drifted.get(node, frozenset())
        for container in specs.containers:
            if container.name in changed:
                reason = "container to start"
            elif container.name in reloads:
                reason = "container to reload"
            elif container.config_dir in differ:
                reason = "differs from the rendered config"
            else:
                continue
            steps.append(
                Step(StepKind.CONFIG, node, container.service, container.name, reason, container)
            )
        for _, service, task in _tasks(specs):
            if service in touched.bootstrap:
                reason = "bootstrap step to run"
            elif task.config_dir in differ:
                reason = "differs from the rendered config"
            else:
                continue
            steps.append(Step(StepKind.CONFIG, node, service, task.name, reason, task))
    return steps


def task_steps(desired: Mapping[str, NodeSpecs], bootstrap: frozenset[str]) -> list[Step]:
    """The bootstrap tasks (before a service's containers) and the after-start tasks of
    each service whose containers are created or recreated, node by node, in order."""
    steps = []
    for node, specs in desired.items():
        for kind, service, task in _tasks(specs):
            if service in bootstrap:
                reason = f"{service} containers are created"
                steps.append(Step(kind, node, service, task.name, reason, task))
    return steps
