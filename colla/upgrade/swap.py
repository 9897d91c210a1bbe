"""The swap state machine: backup, migrate, stop and keep the old, start the new, verify,
commit, contract. Each step is journalled before it runs; any failure reverts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from colla.deploy import nodefiles
from colla.deploy.executor import Executor
from colla.deploy.tasks import BACKGROUND_SHARES, DEFAULT_SHARES, task_request
from colla.engine import Engine
from colla.errors import CollaError, DeployFailed
from colla.history.store import History, Operation, OperationState, RevisionStatus
from colla.model.specs import ContainerSpec, TaskSpec, spec_to_dict
from colla.upgrade import haproxy
from colla.upgrade.journal import COMMITTED_STEPS, Journal, Step
from colla.upgrade.revert import NEXT_SUFFIX, OLD_SUFFIX
from colla.upgrade.revert import revert as revert_operation

KILL_ENV = "COLLA_KILL_AT"  # tests: SIGKILL colla when it journals this step
# Tests: SIGKILL colla inside a step, while its task container runs (backup, migrate,
# restore, contract) or halfway through moving HAProxy's traffic (switch).
KILL_DURING_ENV = "COLLA_KILL_DURING"

Say = Callable[[str], None]
Check = Callable[[str], None]


@dataclass(frozen=True)
class SwapPlan:
    """One service's swap to ``new`` specs, with the tasks around it."""

    kind: str  # "upgrade" or "rollback"
    service: str
    new: tuple[ContainerSpec, ...]
    backup: TaskSpec | None
    restore: TaskSpec | None  # restores ``backup`` (reverting a step that changed the DB)
    migrate: tuple[TaskSpec, ...] = ()  # before the swap (upgrade)
    restore_before_start: TaskSpec | None = None  # after stopping the old (rollback)
    restore_dump: str = ""  # the dump restore_before_start loads
    contract: tuple[TaskSpec, ...] = ()
    command: str = ""
    backup_name: str = ""
    # Behind HAProxy: the new containers start next to the old ones on the other slot,
    # traffic moves through HAProxy's runtime API, then the old ones stop.
    overlap: bool = False
    haproxy: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()  # backend, old, new
    schema: TaskSpec | None = None  # prints the schema versions, before and after migrating
    # Seconds the old container gets to stop in a stop-first swap. Stateless APIs get
    # none: their requests in flight are lost either way without a proxy to drain them.
    stop_timeout: int = 20

    def journal(self) -> Journal:
        """What recovery needs, stored with the operation."""
        return Journal(
            new=self.new,
            restore=self.restore,
            backup_name=self.backup_name,
            contract=self.contract,
            haproxy=self.haproxy,
            tasks=tuple(
                sorted(
                    {
                        (t.node, t.name)
                        for t in (
                            self.backup,
                            self.restore,
                            self.restore_before_start,
                            self.schema,
                            *self.migrate,
                            *self.contract,
                        )
                        if t is not None
                    }
                )
            ),
        )


def record_revision(history: History, spec: ContainerSpec, **fields: Any) -> int:
    """A revision for ``spec`` (its whole spec stored), with ``fields`` such as operation,
    status, command, note, operation_id, backup, migrated."""
    return history.add_revision(
        service=spec.service,
        container=spec.name,
        node=spec.node,
        image=spec.image,
        image_id=spec.image_id,
        spec_hash=spec.spec_hash,
        spec=spec_to_dict(spec),
        **fields,
    )


class Swapper:
    """Runs swap plans through the executor, recording history, and reverts or completes
    them."""

    def __init__(
        self,
        executor: Executor,
        history: History,
        check: Check,
        prove: Callable[[str], None] | None = None,
        stage: Callable[[str], None] | None = None,
    ) -> None:
        self.executor = executor
        self.history = history
        self.check = check
        # Proves a dump the backup step made (by its name) before anything migrates:
        # a restore from a dump that does not load would lose the database.
        self.prove = prove
        # Puts a dump (by its name) back where its restore reads it, from the copy kept
        # off the database host, before the restore runs.
        self.stage = stage
        self.say = executor.say

    def stage_dump(self, name: str) -> None:
        """Put dump ``name`` back for its restore (nothing when unnamed or unkept)."""
        if name and self.stage is not None:
            self.stage(name)

    def _step(self, op: int, step: Step, journal: Journal | None = None) -> None:
        self.history.step(op, step, journal.to_dict() if journal else None)
        self.say(f"{step}")
        if os.environ.get(KILL_ENV) == step:
            os.kill(os.getpid(), signal.SIGKILL)

    def _schema(self, plan: SwapPlan) -> str | None:
        """The schema versions of the service's databases; None when unknown."""
        if plan.schema is None:
            return None
        self.executor.write_config(plan.schema)
        engine = self.engine(plan.schema.node)
        code, output = engine.run_to_completion(task_request(plan.schema))
        return output if code == 0 else None

    def engine(self, node: str) -> Engine:
        """The engine of ``node``; CollaError when this run cannot reach it."""
        return self.executor.engine(node)

    def run_task(self, task: TaskSpec, step: Step | None = None) -> None:
        """Write a task's config on its node and run it (``step``: for COLLA_KILL_DURING)."""
        self.executor.write_config(task)
        if step and os.environ.get(KILL_DURING_ENV) == step:
            # Die with the task's container running, as a crash in the middle would.
            engine = self.engine(task.node)
            request = task_request(task)
            engine.remove_container(request.name)
            engine.create_container(request)
            engine.start(request.name)
            os.kill(os.getpid(), signal.SIGKILL)
        self.executor.run_task(task)

    def run(self, plan: SwapPlan) -> list[int]:
        """Swap; on failure revert and raise DeployFailed. Returns the new revision IDs."""
        journal = plan.journal()
        op = self.history.start_operation(plan.kind, plan.service, journal.to_dict())
        revisions = [
            record_revision(
                self.history,
                spec,
                operation=plan.kind,
                operation_id=op,
                status=RevisionStatus.PENDING,
                backup=plan.backup_name,
                migrated=bool(plan.migrate or plan.restore_before_start),
                command=plan.command,
            )
            for spec in plan.new
        ]
        journal = replace(journal, revisions=tuple(revisions))
        try:
            self._step(op, Step.BACKUP, journal)
            if plan.backup is not None:
                self.run_task(plan.backup, Step.BACKUP)
                if self.prove is not None:
                    self.prove(plan.backup_name)
            if plan.migrate:
                before = self._schema(plan)
                journal = replace(journal, db_changed=True)
                self._step(op, Step.MIGRATE, journal)
                for task in plan.migrate:
                    self.run_task(task, Step.MIGRATE)
                after = self._schema(plan)
                if before is not None and before == after:
                    # Nothing changed the schema: a rollback needs no restore, and a
                    # revert of this upgrade need not restore either.
                    self.say(f"schema unchanged ({before.strip() or 'no versions'})")
                    journal = replace(journal, db_changed=False)
                    self.history.step(op, Step.MIGRATE, journal.to_dict())
                    for revision in revisions:
                        self.history.set_migrated(revision, False)
            if plan.overlap:
                self._overlap(op, plan)
            else:
                self._stop_first(op, plan, journal)
        except CollaError as e:
            logs = self._logs(plan.new)
            self.say(f"failed: {e}; rolling back")
            self.revert(self.history.operation(op) or _missing(op))
            raise DeployFailed(
                f"{plan.kind} of {plan.service} failed and was rolled back: {e}", e.details + logs
            ) from None
        self.complete(self.history.operation(op) or _missing(op))
        self.executor.settle()
        return revisions

    def _overlap(self, op: int, plan: SwapPlan) -> None:
        self._step(op, Step.START_NEW)
        # The new containers load beside the old ones, which serve meanwhile: on a
        # small host their start would take the CPU the old ones answer with (and
        # HAProxy would take the slow old API for a dead one). They start with a low
        # CPU weight and get the usual one when traffic moves to them.
        for spec in plan.new:
            self._start_new(spec, spec.name + NEXT_SUFFIX, shares=BACKGROUND_SHARES)
        self._step(op, Step.VERIFY)
        for spec in plan.new:
            self.executor.wait_healthy(spec.node, spec.name + NEXT_SUFFIX)
        self.check(plan.service)
        self._step(op, Step.SWITCH)
        for spec in plan.new:
            self.executor.set_cpu_shares(spec.node, spec.name + NEXT_SUFFIX, DEFAULT_SHARES)
        for backend, old, new in plan.haproxy:
            haproxy.wait_for(backend, {name: ("UP", None) for name in new})
            for name in old:
                haproxy.set_state(backend, name, "drain")
                if os.environ.get(KILL_DURING_ENV) == Step.SWITCH:
                    os.kill(os.getpid(), signal.SIGKILL)
            haproxy.wait_for(backend, {name: (None, 0) for name in old})
        self._step(op, Step.STOP_OLD)
        for spec in plan.new:
            self._keep_old(spec)
            self.executor.rename(spec.node, spec.name + NEXT_SUFFIX, spec.name)
        for backend, old, _ in plan.haproxy:
            for name in old:
                haproxy.set_state(backend, name, "ready")

    def _stop_first(self, op: int, plan: SwapPlan, journal: Journal) -> None:
        # Everything that can happen before the old version stops does: the gap is then
        # the old container's stop, a rename and the new one's start.
        # The rest of the cloud serves meanwhile: the new containers load with what it
        # leaves of the CPU (a rotation restarts a dozen agents while Keystone answers),
        # and get the usual weight once healthy.
        self._step(op, Step.PREPARE_NEW)
        for spec in plan.new:
            self._start_new(spec, spec.name + NEXT_SUFFIX, start=False, shares=BACKGROUND_SHARES)
        self._step(op, Step.STOP_OLD)
        for spec in plan.new:
            self._keep_old(spec, plan.stop_timeout)
        if plan.restore_before_start is not None:
            self._step(op, Step.RESTORE, replace(journal, db_changed=True))
            self.stage_dump(plan.restore_dump)
            self.run_task(plan.restore_before_start, Step.RESTORE)
        self._step(op, Step.START_NEW)
        for spec in plan.new:
            self.executor.rename(spec.node, spec.name + NEXT_SUFFIX, spec.name)
            self.executor.start(spec.node, spec.name)
        self._step(op, Step.VERIFY)
        for spec in plan.new:
            self.executor.wait_healthy(spec.node, spec.name)
            self.executor.set_cpu_shares(spec.node, spec.name, DEFAULT_SHARES)
        self.check(plan.service)

    def _keep_old(self, spec: ContainerSpec, timeout: int = 20) -> None:
        current = self.engine(spec.node).container(spec.name)
        if current is None:
            return
        self.executor.remove(spec.node, spec.name + OLD_SUFFIX)
        if current.state == "running":
            self.executor.stop(spec.node, spec.name, timeout)
        self.executor.rename(spec.node, spec.name, spec.name + OLD_SUFFIX)

    def _start_new(
        self, spec: ContainerSpec, name: str, start: bool = True, shares: int | None = None
    ) -> None:
        # The old container mounts the same directory: keep its files to put them back.
        # (It read them when it started, so a running old container is not disturbed.)
        nodefiles.snapshot(self.engine(spec.node), spec)
        self.executor.write_config(spec)
        self.executor.remove(spec.node, name)
        self.executor.create(spec, name, shares)
        if start:
            self.executor.start(spec.node, name)

    def _logs(self, specs: tuple[ContainerSpec, ...]) -> tuple[str, ...]:
        lines: list[str] = []
        for spec in specs:
            engine = self.executor.engines.get(spec.node)
            if engine is not None and engine.container(spec.name) is not None:
                lines += [
                    f"{spec.node}/{spec.name}: {line}"
                    for line in engine.logs(spec.name, tail=10).splitlines()
                ]
        return tuple(lines[-20:])

    def revert(self, op: Operation) -> None:
        """Put the old version back (see colla.upgrade.revert)."""
        revert_operation(self, op)

    def complete(self, op: Operation) -> None:
        """Finish a verified swap: drop the old containers, contract, record healthy."""
        journal = Journal.from_dict(op.data)
        self._step(op.id, Step.COMMIT)
        for spec in journal.new:
            self.executor.remove(spec.node, spec.name + OLD_SUFFIX)
            nodefiles.drop_snapshot(self.engine(spec.node), spec)
            # An overlap started it with a low weight; a crash may have come before
            # the switch gave it the usual one.
            if self.engine(spec.node).container(spec.name) is not None:
                self.executor.set_cpu_shares(spec.node, spec.name, DEFAULT_SHARES)
        self._step(op.id, Step.CONTRACT)
        note = ""
        try:
            for task in journal.contract:
                self.run_task(task, Step.CONTRACT)
        except CollaError as e:
            # The new version serves; contracting again later is safe.
            note = f"contract failed: {e}"
        for revision in journal.revisions:
            self.history.set_status(revision, RevisionStatus.HEALTHY, note)
        self.history.finish_operation(op.id, OperationState.DONE)
        if note:
            raise DeployFailed(f"{op.kind} of {op.service} serves, but {note}")


def recover(swapper: Swapper, history: History, say: Say) -> list[str]:
    """Complete or revert every operation a killed colla left unfinished."""
    done = []
    for op in history.unfinished():
        if op.step in COMMITTED_STEPS:
            say(f"completing the interrupted {op.kind} of {op.service} (operation {op.id})")
            swapper.complete(op)
            done.append(f"{op.kind} of {op.service} completed")
        else:
            say(f"reverting the interrupted {op.kind} of {op.service} (operation {op.id})")
            swapper.revert(op)
            done.append(f"{op.kind} of {op.service} reverted")
    return done


def _missing(op: int) -> Operation:
    raise CollaError(f"history lost operation {op}")
