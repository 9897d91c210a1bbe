"""The applier: executes a Plan, service level by level, each gated on health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from colla.deploy.nodefiles import write_config
from colla.deploy.nodes import in_parallel, raise_for_nodes
from colla.deploy.plan import Action, Change, Plan
from colla.deploy.steps import Step, StepKind
from colla.deploy.tasks import run_task, wait_healthy
from colla.engine import ContainerRequest, Engine
from colla.errors import CollaError, DeployFailed
from colla.model.services import ServiceCatalog
from colla.model.specs import CONFIG_MOUNT, LABEL_MANAGED, ContainerSpec
from colla.ordered import run_in_order

Say = Callable[[str], None]


@dataclass(frozen=True)
class ApplyOptions:
    """How long to wait, and what to say."""

    health_timeout: int = 300


def container_request(spec: ContainerSpec) -> ContainerRequest:
    """The engine request that creates ``spec``'s container."""
    health = spec.healthcheck
    return ContainerRequest(
        name=spec.name,
        image=spec.image_id,
        labels=spec.labels(),
        environment=dict(spec.environment),
        volumes=dict(spec.volumes),
        binds={spec.config_dir: f"{CONFIG_MOUNT}:ro"},
        health_test=health.test if health else None,
        health_interval=health.interval if health else 5,
        health_timeout=health.timeout if health else 5,
        health_retries=health.retries if health else 3,
        health_start_period=health.start_period if health else 60,
        restart=spec.restart,
        privileges=spec.privileges,
        log_limits=(spec.log.max_size, spec.log.max_file),
    )


class Applier:
    """Applies one plan to the engines of its nodes: its changes and its steps, nothing
    else."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        catalog: ServiceCatalog,
        options: ApplyOptions,
        say: Say,
        on_ready: Callable[[str, list[Change]], None] | None = None,
    ) -> None:
        self.on_ready = on_ready
        self.engines = engines
        self.catalog = catalog
        self.options = options
        self.say = say
        # What was done on each node so far: a failure says it.
        self.done: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def apply(self, plan: Plan) -> None:
        """Remove, write config, create volumes, then bring services up level by level.

        Nodes work in parallel: each service's containers are changed on all of its
        nodes at once. A failure names the node and what had been done there.
        """
        for change in plan.actionable:
            if change.action is Action.REMOVE:
                self.say(f"{change.node}/{change.name}: removing ({'; '.join(change.reasons)})")
                self.engines[change.node].remove_container(change.name)
        self._on_nodes("writing config", plan.steps_of(StepKind.CONFIG), self._write)
        self._on_nodes("creating volumes", plan.steps_of(StepKind.VOLUME), self._volume)
        bootstrap = {s.service for s in plan.steps_of(StepKind.TASK)}
        bootstrap |= {s.service for s in plan.steps_of(StepKind.POST)}
        by_service: dict[str, list[Change]] = {}
        for change in plan.changes:
            if change.action is not Action.REMOVE:
                by_service.setdefault(change.service, []).append(change)
        work = {s for s, changes in by_service.items() if s in bootstrap or _acts(changes)}
        errors: list[DeployFailed] = []

        def job(service: str) -> DeployFailed | None:
            try:
                self._service(service, by_service[service], plan)
            except DeployFailed as e:
                return e
            return None

        def report(service: str, error: DeployFailed | None) -> bool:
            if error is not None:
                errors.append(error)
            return error is None

        # Each service starts as soon as the services it depends on are ready; after a
        # failure no new service starts, and those already running finish.
        run_in_order(self.catalog.sorter(set(by_service)), job, 4, lambda s: s not in work, report)
        if errors:
            raise errors[0]

    def _on_nodes(self, what: str, steps: list[Step], do: Callable[[Step], None]) -> None:
        """Run ``steps`` in order on each node, the nodes in parallel."""
        by_node: dict[str, list[Step]] = {}
        for step in steps:
            by_node.setdefault(step.node, []).append(step)

        def one(node: str) -> None:
            for step in by_node[node]:
                do(step)

        _, errors = in_parallel(by_node, one)
        raise_for_nodes(what, {n: self._failed(n, e) for n, e in errors.items()})

    def _write(self, step: Step) -> None:
        assert step.spec is not None
        write_config(self.engines[step.node], step.spec)

    def _volume(self, step: Step) -> None:
        # Not listed in what a failure says was done on the node: an empty volume
        # changes nothing a rerun would trip on, and the message names containers.
        self.engines[step.node].create_volume(step.target, {LABEL_MANAGED: "true"})

    def _service(self, service: str, changes: list[Change], plan: Plan) -> None:
        started = time.monotonic()
        self._tasks(plan.steps_of(StepKind.TASK, service))
        by_node: dict[str, list[Change]] = {}
        for change in changes:
            if change.action is not Action.NOOP:
                by_node.setdefault(change.node, []).append(change)

        def one(node: str) -> None:
            for change in by_node[node]:
                self._change(change)
            for change in by_node[node]:
                wait_healthy(self.engines[node], node, change.name, self.options.health_timeout)

        _, errors = in_parallel(by_node, one)
        if errors:
            raise_for_nodes(service, {n: self._failed(n, e) for n, e in errors.items()})
        self._tasks(plan.steps_of(StepKind.POST, service))
        self.say(f"{service}: ready ({time.monotonic() - started:.1f} s)")
        if self.on_ready is not None:
            self.on_ready(service, changes)

    def _change(self, change: Change) -> None:
        assert change.spec is not None
        engine = self.engines[change.node]
        what = f"{change.node}/{change.name}"
        self.say(f"{what}: {change.action} ({'; '.join(change.reasons)})")
        if change.action is not Action.START:
            if change.action is Action.RECREATE:
                engine.remove_container(change.name)
                self._did(change.node, f"removed the old {change.name}")
            engine.create_container(container_request(change.spec))
            self._did(change.node, f"created {change.name}")
        engine.start(change.name)
        self._did(change.node, f"started {change.name}")

    def _did(self, node: str, what: str) -> None:
        with self._lock:
            self.done.setdefault(node, []).append(what)

    def _failed(self, node: str, error: CollaError) -> DeployFailed:
        """The error, naming the node and what had already been done there."""
        with self._lock:
            done = list(self.done.get(node, ()))
        already = "; done there before: " + ", ".join(done) if done else "; nothing done there"
        text = str(error)
        named = (
            text
            if text.startswith(f"node {node}") or text.startswith(f"{node}/")
            else (f"node {node}: {text}")
        )
        return DeployFailed(named + already, error.details)

    def _tasks(self, steps: list[Step]) -> None:
        """One service's tasks, one after the other in plan order (node by node)."""
        for step in steps:
            assert step.spec is not None
            try:
                run_task(self.engines[step.node], step.node, step.spec, self.say)
            except CollaError as e:
                raise self._failed(step.node, e) from e
            self._did(step.node, f"ran {step.spec.name}")


def _acts(changes: list[Change]) -> bool:
    return any(c.action is not Action.NOOP for c in changes)
