"""Reverting a swap on fake engines: the operation's own task containers stop first, the
database is restored once however often the revert runs, each node is reverted on its
own, and HAProxy's drained servers serve again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from colla.deploy import nodefiles
from colla.deploy.specs import LABEL_HASH, TASK_PREFIX, ContainerSpec, TaskSpec
from colla.engine import ContainerInfo, ContainerRequest, Engine
from colla.errors import CollaError, EngineError
from colla.history.store import History
from colla.upgrade import haproxy
from colla.upgrade import revert as revert_module
from colla.upgrade.swap import Swapper, SwapPlan
from tests.unit.test_plan import spec


class Node:
    """One node's engine: containers by name, and what was done to them, in order."""

    remote = False

    def __init__(self, name: str, *, down: bool = False) -> None:
        self.url = name
        self.down = down
        self.containers: dict[str, ContainerInfo] = {}
        self.calls: list[str] = []
        self.ran = Tasks()

    def add(self, name: str, state: str = "running", spec_hash: str = "") -> None:
        labels = {LABEL_HASH: spec_hash} if spec_hash else {}
        self.containers[name] = ContainerInfo(name, name, state, "healthy", labels, "", "", 0)

    def _call(self, what: str) -> None:
        if self.down:
            raise EngineError(f"{self.url}: the Docker engine does not answer")
        self.calls.append(what)

    def container(self, name: str) -> ContainerInfo | None:
        self._call(f"inspect {name}")
        return self.containers.get(name)

    def remove_container(self, name: str) -> None:
        self._call(f"remove {name}")
        self.containers.pop(name, None)

    def rename(self, old: str, new: str) -> None:
        self._call(f"rename {old} {new}")
        self.containers[new] = replace(self.containers.pop(old), name=new)

    def start(self, name: str) -> None:
        self._call(f"start {name}")
        self.containers[name] = replace(self.containers[name], state="running")

    def run_to_completion(self, request: ContainerRequest) -> tuple[int, str]:
        self._call(f"run {request.name}")
        self.ran.tasks.append(f"{self.url}/{request.name.removeprefix(TASK_PREFIX)}")
        return 0, ""


class Tasks:
    """The task containers run to completion on every node, in order (all succeed)."""

    def __init__(self) -> None:
        self.tasks: list[str] = []


def _task(name: str, node: str, tmp_path: Path) -> TaskSpec:
    return TaskSpec(name, "keystone", node, "img", "sha256:1", str(tmp_path / name), ())


def _setup(
    tmp_path: Path, nodes: dict[str, Node], *, haproxy: bool = False
) -> tuple[Swapper, History, Tasks, int, list[ContainerSpec]]:
    new = [
        replace(spec({"name": "keystone", "service": "keystone", "node": n}),
                config_dir=str(tmp_path / n / "keystone"))
        for n in nodes
    ]  # fmt: skip
    plan = SwapPlan(
        kind="upgrade",
        service="keystone",
        new=tuple(new),
        backup=_task("keystone-backup", "node1", tmp_path),
        restore=_task("keystone-restore", "node1", tmp_path),
        migrate=(_task("keystone-migrate", "node1", tmp_path),),
        haproxy=(("keystone_api", ("keystone-a",), ("keystone-b",)),) if haproxy else (),
    )
    history = History(tmp_path / "history.sqlite")
    data = replace(plan.journal(), db_changed=True).to_dict()
    op = history.start_operation("upgrade", "keystone", data)
    history.step(op, "start-new", data)
    for s in new:
        engine = nodes[s.node]
        engine.add("keystone" + revert_module.OLD_SUFFIX, state="exited")
        engine.add("keystone", spec_hash=s.spec_hash)
    nodes["node1"].add("colla-task-keystone-migrate")  # still running when colla died
    ran = Tasks()
    for node in nodes.values():
        node.ran = ran
    engines = cast(dict[str, Engine], nodes)
    swapper = Swapper(engines, history, lambda service: None, print)
    return swapper, history, ran, op, new


def _operation(history: History, op: int) -> Any:
    found = history.operation(op)
    assert found is not None
    return found


def test_a_running_migration_is_stopped_before_the_restore(tmp_path: Path) -> None:
    nodes = {"node1": Node("node1")}
    swapper, history, applier, op, _ = _setup(tmp_path, nodes)
    swapper.revert(_operation(history, op))
    calls = nodes["node1"].calls
    assert "remove colla-task-keystone-migrate" in calls
    assert "colla-task-keystone-migrate" not in nodes["node1"].containers
    assert applier.tasks == ["node1/keystone-restore"]
    assert nodes["node1"].containers["keystone"].state == "running"
    assert "keystone-colla-old" not in nodes["node1"].containers
    assert history.unfinished() == []


def test_a_second_revert_does_not_restore_again(tmp_path: Path, monkeypatch: Any) -> None:
    nodes = {"node1": Node("node1")}
    swapper, history, applier, op, _ = _setup(tmp_path, nodes)

    def killed(engine: Any, spec: Any) -> None:
        raise KeyboardInterrupt  # colla dies after the restore, before the old is back

    monkeypatch.setattr(nodefiles, "restore", killed)
    with pytest.raises(KeyboardInterrupt):
        swapper.revert(_operation(history, op))
    monkeypatch.undo()
    assert applier.tasks == ["node1/keystone-restore"]
    swapper.revert(_operation(history, op))
    assert applier.tasks == ["node1/keystone-restore"]  # the dump was not restored twice
    assert nodes["node1"].containers["keystone"].state == "running"
    assert history.unfinished() == []


def test_each_node_is_reverted_on_its_own(tmp_path: Path) -> None:
    nodes = {"node1": Node("node1"), "node2": Node("node2"), "node3": Node("node3")}
    swapper, history, _, op, _ = _setup(tmp_path, nodes)
    nodes["node2"].down = True
    with pytest.raises(CollaError, match=r"reverted except on node2: .*colla recover"):
        swapper.revert(_operation(history, op))
    for name in ("node1", "node3"):
        assert nodes[name].containers["keystone"].state == "running", name
        assert "keystone-colla-old" not in nodes[name].containers, name
    # The operation stays open: recover finishes node2 once it answers, without a
    # second restore.
    assert [o.id for o in history.unfinished()] == [op]
    nodes["node2"].down = False
    swapper.revert(_operation(history, op))
    assert nodes["node2"].containers["keystone"].state == "running"
    assert history.unfinished() == []


def test_haproxy_serves_from_the_old_servers_again(tmp_path: Path, monkeypatch: Any) -> None:
    nodes = {"node1": Node("node1")}
    swapper, history, _, op, _ = _setup(tmp_path, nodes, haproxy=True)
    nodes["node1"].add("keystone" + revert_module.NEXT_SUFFIX)
    states: list[tuple[str, str, str]] = []
    monkeypatch.setattr(haproxy, "set_state", lambda b, s, state: states.append((b, s, state)))
    swapper.revert(_operation(history, op))
    assert states == [("keystone_api", "keystone-a", "ready")]
    assert "keystone-colla-next" not in nodes["node1"].containers
