"""The applier: executes a Plan, service level by level, each gated on health."""

from __future__ import annotations

import time
from collections.abc import Callable

from colla.deploy.executor import Executor
from colla.deploy.nodes import in_parallel, raise_for_nodes
from colla.deploy.plan import Action, Change, Plan
from colla.deploy.steps import Step, StepKind
from colla.errors import CollaError, DeployFailed
from colla.model.services import EARLY, ServiceCatalog
from colla.ordered import run_in_order

# Jobs at once: a service's own job and the early steps of others overlap (threads that
# mostly wait on the engine; the services' own work is the machine's).
WORKERS = 6


class Applier:
    """Applies one plan through the executor: its changes and its steps, nothing else."""

    def __init__(
        self,
        executor: Executor,
        catalog: ServiceCatalog,
        on_ready: Callable[[str, list[Change]], None] | None = None,
    ) -> None:
        self.on_ready = on_ready
        self.executor = executor
        self.catalog = catalog
        self.say = executor.say

    def apply(self, plan: Plan) -> None:
        """Remove, write config, create volumes, then bring services up level by level.

        Nodes work in parallel: each service's containers are changed on all of its
        nodes at once. A failure names the node and what had been done there.
        """
        for change in plan.actionable:
            if change.action is Action.REMOVE:
                self.say(f"{change.node}/{change.name}: removing ({'; '.join(change.reasons)})")
                self.executor.remove(change.node, change.name)
        self._on_nodes("writing config", plan.steps_of(StepKind.CONFIG), self._write)
        self._on_nodes("creating volumes", plan.steps_of(StepKind.VOLUME), self._volume)
        early = {s.service for s in plan.steps_of(StepKind.EARLY)}
        bootstrap = {s.service for s in plan.steps_of(StepKind.TASK)}
        bootstrap |= {s.service for s in plan.steps_of(StepKind.POST)} | early
        by_service: dict[str, list[Change]] = {}
        for change in plan.changes:
            if change.action is not Action.REMOVE:
                by_service.setdefault(change.service, []).append(change)
        work = {s for s, changes in by_service.items() if s in bootstrap or _acts(changes)}
        errors: list[DeployFailed] = []

        def job(name: str) -> DeployFailed | None:
            service = name.removesuffix(EARLY)
            try:
                if service != name:
                    self._early(service, plan)
                else:
                    self._service(service, by_service[service], plan)
            except DeployFailed as e:
                return e
            return None

        def report(service: str, error: DeployFailed | None) -> bool:
            if error is not None:
                errors.append(error)
            return error is None

        # Each service starts as soon as the services it depends on are ready, and its
        # early steps as soon as those they need are; after a failure nothing new
        # starts, and what already runs finishes.
        sorter = self.catalog.sorter(set(by_service), early)
        run_in_order(sorter, job, WORKERS, lambda s: s.removesuffix(EARLY) not in work, report)
        if errors:
            raise errors[0]
        self.executor.settle()

    def _on_nodes(self, what: str, steps: list[Step], do: Callable[[Step], None]) -> None:
        """Run ``steps`` in order on each node, the nodes in parallel."""
        by_node: dict[str, list[Step]] = {}
        for step in steps:
            by_node.setdefault(step.node, []).append(step)

        def one(node: str) -> None:
            for step in by_node[node]:
                do(step)

        _, errors = in_parallel(by_node, one)
        raise_for_nodes(what, {n: self.executor.failed(n, e) for n, e in errors.items()})

    def _write(self, step: Step) -> None:
        assert step.spec is not None
        self.executor.write_config(step.spec)

    def _volume(self, step: Step) -> None:
        self.executor.create_volume(step.node, step.target)

    def _early(self, service: str, plan: Plan) -> None:
        # In the background: they run beside the longest chain of the deploy (the
        # identity service's bootstrap first), which must not wait for them.
        started = time.monotonic()
        self._tasks(plan.steps_of(StepKind.EARLY, service), background=True)
        self.say(f"{service}: early steps done ({time.monotonic() - started:.1f} s)")

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
                self.executor.wait_healthy(node, change.name)

        _, errors = in_parallel(by_node, one)
        if errors:
            raise_for_nodes(service, {n: self.executor.failed(n, e) for n, e in errors.items()})
        self._tasks(plan.steps_of(StepKind.POST, service))
        self.say(f"{service}: ready ({time.monotonic() - started:.1f} s)")
        if self.on_ready is not None:
            self.on_ready(service, changes)

    def _change(self, change: Change) -> None:
        assert change.spec is not None
        self.say(f"{change.node}/{change.name}: {change.action} ({'; '.join(change.reasons)})")
        if change.action is Action.RELOAD:
            self.executor.reload(change.spec)
            return
        if change.action is not Action.START:
            if change.action is Action.RECREATE:
                self.executor.remove(change.node, change.name, f"removed the old {change.name}")
            self.executor.create(change.spec)
        self.executor.start(change.node, change.name)

    def _tasks(self, steps: list[Step], background: bool = False) -> None:
        """One service's tasks, one after the other in plan order (node by node)."""
        for step in steps:
            assert step.spec is not None
            try:
                self.executor.run_task(step.spec, background)
            except CollaError as e:
                raise self.executor.failed(step.node, e) from e


def _acts(changes: list[Change]) -> bool:
    return any(c.action is not Action.NOOP for c in changes)
