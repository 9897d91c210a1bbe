"""Reverting a swap: the old version back on every node it can reach, the database
restored at most once, HAProxy's servers as they were.

A revert runs after a failure or, through ``colla recover``, after colla was killed at
any point, even inside a step. So it first stops what the operation itself still runs
(a dump, a migration, a restore in its task container), it journals the restore once it
has run (a second revert must not restore again: the old version may already have
served writes since), and it treats each node on its own, so one unreachable node
leaves the others on the old version instead of on neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from colla.deploy import nodefiles
from colla.errors import CollaError
from colla.history.store import Operation, OperationState, RevisionStatus
from colla.model.specs import LABEL_HASH, TASK_PREFIX, ContainerSpec
from colla.upgrade import haproxy
from colla.upgrade.journal import Journal, Step

if TYPE_CHECKING:
    from colla.upgrade.swap import Swapper

OLD_SUFFIX = "-colla-old"
NEXT_SUFFIX = "-colla-next"


def _each_node(
    specs: list[ContainerSpec], action: Callable[[str, list[ContainerSpec]], None]
) -> dict[str, str]:
    """Run ``action`` for each node's specs; node → error for the nodes where it failed."""
    by_node: dict[str, list[ContainerSpec]] = {}
    for spec in specs:
        by_node.setdefault(spec.node, []).append(spec)
    failed = {}
    for node, on_node in sorted(by_node.items()):
        try:
            action(node, on_node)
        except CollaError as e:
            failed[node] = str(e)
    return failed


def revert(swapper: Swapper, op: Operation) -> None:
    """Put the old version back; CollaError naming the nodes it could not reach (the
    operation then stays unfinished, for ``colla recover`` to finish)."""
    journal = Journal.from_dict(op.data)
    new = list(journal.new)
    tasks = journal.tasks

    def stop_tasks_and_new(node: str, specs: list[ContainerSpec]) -> None:
        engine = swapper.engine(node)
        for task_node, task in tasks:
            if task_node == node:
                swapper.executor.remove(node, TASK_PREFIX + task)
        for spec in specs:
            swapper.executor.remove(node, spec.name + NEXT_SUFFIX)
            current = engine.container(spec.name)
            has_old = engine.container(spec.name + OLD_SUFFIX) is not None
            if current is not None and (
                has_old or current.labels.get(LABEL_HASH) == spec.spec_hash
            ):
                swapper.executor.remove(node, spec.name)

    failed = _each_node(new, stop_tasks_and_new)
    # Task containers may also run on nodes that have none of the service's containers.
    for task_node, task in tasks:
        if task_node not in {s.node for s in new}:
            try:
                swapper.executor.remove(task_node, TASK_PREFIX + task)
            except CollaError as e:
                failed[task_node] = str(e)
    if journal.db_changed and journal.restore is not None and not journal.restored:
        swapper.say("restoring the database from the dump taken before")
        swapper.stage_dump(journal.backup_name)
        swapper.run_task(journal.restore, Step.RESTORE)
        journal = replace(journal, restored=True)
        swapper.history.step(op.id, Step.REVERT, journal.to_dict())

    def bring_back_old(node: str, specs: list[ContainerSpec]) -> None:
        engine = swapper.engine(node)
        for spec in specs:
            nodefiles.restore(engine, spec)
            if engine.container(spec.name + OLD_SUFFIX) is not None:
                swapper.executor.rename(node, spec.name + OLD_SUFFIX, spec.name)
            old = engine.container(spec.name)
            if old is not None and old.state != "running":
                swapper.executor.start(node, spec.name)
            if old is not None:
                swapper.executor.wait_healthy(spec.node, spec.name)

    for node, error in _each_node([s for s in new if s.node not in failed], bring_back_old).items():
        failed[node] = error
    # Behind HAProxy the old servers were drained for the switch: they serve again (a
    # server whose container is not back is marked down by HAProxy's own check).
    try:
        for backend, old, _ in journal.haproxy:
            for server in old:
                haproxy.set_state(backend, server, "ready")
    except CollaError as e:
        failed["haproxy"] = str(e)
    if failed:
        where = "; ".join(f"{node}: {error}" for node, error in sorted(failed.items()))
        raise CollaError(
            f"the {op.kind} of {op.service} is reverted except on {where}; "
            "run `colla recover` once those nodes answer"
        )
    for revision in journal.revisions:
        swapper.history.set_status(
            revision, RevisionStatus.ROLLED_BACK, "failed; the previous version was restored"
        )
    swapper.history.finish_operation(op.id, OperationState.REVERTED)
