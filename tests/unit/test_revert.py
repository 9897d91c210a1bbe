"""Reverting a swap on fake engines: the operation's own task containers stop first, the
database is restored once however often the revert runs, each node is reverted on its
own, and HAProxy's drained servers serve again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from colla.deploy import nodefiles
from colla.deploy.executor import Executor
from colla.errors import CollaError
from colla.history.store import History
from colla.model.specs import LABEL_HASH, TASK_PREFIX, ContainerSpec
from colla.upgrade import haproxy
from colla.upgrade import revert as revert_module
from colla.upgrade.swap import Swapper, SwapPlan
from tests.fakes import FakeEngine, task_spec
from tests.unit.test_plan import spec


def _ran(nodes: dict[str, FakeEngine]) -> list[str]:
    """The task containers run to completion on every node (node/task)."""
    return [f"{n}/{t.removeprefix(TASK_PREFIX)}" for n, e in nodes.items() for t in e.tasks]


def _setup(
    tmp_path: Path, nodes: dict[str, FakeEngine], *, haproxy: bool = False
) -> tuple[Swapper, History, int, list[ContainerSpec]]:
    new = [
        replace(spec({"name": "keystone", "service": "keystone", "node": n}),
                config_dir=str(tmp_path / n / "keystone"))
        for n in nodes
    ]  # fmt: skip
    plan = SwapPlan(
        kind="upgrade",
        service="keystone",
        new=tuple(new),
        backup=task_spec("keystone-backup", "node1", tmp_path),
        restore=task_spec("keystone-restore", "node1", tmp_path),
        migrate=(task_spec("keystone-migrate", "node1", tmp_path),),
        haproxy=(("keystone_api", ("keystone-a",), ("keystone-b",)),) if haproxy else (),
    )
    history = History(tmp_path / "history.sqlite")
    data = replace(plan.journal(), db_changed=True).to_dict()
    op = history.start_operation("upgrade", "keystone", data)
    history.step(op, "start-new", data)
    for s in new:
        engine = nodes[s.node]
        engine.add("keystone" + revert_module.OLD_SUFFIX, state="exited")
        engine.add("keystone", labels={LABEL_HASH: s.spec_hash})
    nodes["node1"].add("colla-task-keystone-migrate")  # still running when colla died
    swapper = Swapper(Executor(nodes, print), history, lambda service: None)
    return swapper, history, op, new


def _operation(history: History, op: int) -> Any:
    found = history.operation(op)
    assert found is not None
    return found


def test_a_running_migration_is_stopped_before_the_restore(tmp_path: Path) -> None:
    nodes = {"node1": FakeEngine("node1")}
    swapper, history, op, _ = _setup(tmp_path, nodes)
    swapper.revert(_operation(history, op))
    calls = nodes["node1"].calls
    assert "remove colla-task-keystone-migrate" in calls
    assert "colla-task-keystone-migrate" not in nodes["node1"].stored
    assert _ran(nodes) == ["node1/keystone-restore"]
    assert nodes["node1"].state("keystone") == "running"
    assert "keystone-colla-old" not in nodes["node1"].stored
    assert history.unfinished() == []


def test_a_second_revert_does_not_restore_again(tmp_path: Path, monkeypatch: Any) -> None:
    nodes = {"node1": FakeEngine("node1")}
    swapper, history, op, _ = _setup(tmp_path, nodes)

    def killed(engine: Any, spec: Any) -> None:
        raise KeyboardInterrupt  # colla dies after the restore, before the old is back

    monkeypatch.setattr(nodefiles, "restore", killed)
    with pytest.raises(KeyboardInterrupt):
        swapper.revert(_operation(history, op))
    monkeypatch.undo()
    assert _ran(nodes) == ["node1/keystone-restore"]
    swapper.revert(_operation(history, op))
    assert _ran(nodes) == ["node1/keystone-restore"]  # the dump was not restored twice
    assert nodes["node1"].state("keystone") == "running"
    assert history.unfinished() == []


def test_each_node_is_reverted_on_its_own(tmp_path: Path) -> None:
    nodes = {
        "node1": FakeEngine("node1"),
        "node2": FakeEngine("node2"),
        "node3": FakeEngine("node3"),
    }
    swapper, history, op, _ = _setup(tmp_path, nodes)
    nodes["node2"].down = True
    with pytest.raises(CollaError, match=r"reverted except on node2: .*colla recover"):
        swapper.revert(_operation(history, op))
    for name in ("node1", "node3"):
        assert nodes[name].state("keystone") == "running", name
        assert "keystone-colla-old" not in nodes[name].stored, name
    # The operation stays open: recover finishes node2 once it answers, without a
    # second restore.
    assert [o.id for o in history.unfinished()] == [op]
    nodes["node2"].down = False
    swapper.revert(_operation(history, op))
    assert nodes["node2"].state("keystone") == "running"
    assert history.unfinished() == []


def test_haproxy_serves_from_the_old_servers_again(tmp_path: Path, monkeypatch: Any) -> None:
    nodes = {"node1": FakeEngine("node1")}
    swapper, history, op, _ = _setup(tmp_path, nodes, haproxy=True)
    nodes["node1"].add("keystone" + revert_module.NEXT_SUFFIX)
    states: list[tuple[str, str, str]] = []
    monkeypatch.setattr(haproxy, "set_state", lambda b, s, state: states.append((b, s, state)))
    swapper.revert(_operation(history, op))
    assert states == [("keystone_api", "keystone-a", "ready")]
    assert "keystone-colla-next" not in nodes["node1"].stored
