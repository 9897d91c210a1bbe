"""The swap state machine on fake engines: a stop-first swap journals its steps in order
and commits; a swap whose new version fails its health check is reverted, restoring the
database it changed, and its revisions are recorded rolled back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from colla.deploy.specs import ContainerSpec
from colla.engine import ContainerInfo, ContainerRequest, Engine
from colla.errors import DeployFailed
from colla.history.store import History, RevisionStatus
from colla.upgrade.journal import Journal
from colla.upgrade.revert import OLD_SUFFIX
from colla.upgrade.swap import Swapper, SwapPlan
from tests.unit.test_plan import spec
from tests.unit.test_revert import Node, Tasks, _task


class Host(Node):
    """A node that also creates, stops and logs containers; those it creates start
    ``health``, the old ones healthy."""

    def __init__(self, name: str, health: str = "healthy") -> None:
        super().__init__(name)
        self.health = health
        self.created: set[str] = set()

    def create_container(self, request: ContainerRequest) -> None:
        self._call(f"create {request.name}")
        info = ContainerInfo(
            request.name, request.name, "created", None, dict(request.labels), "", "", 0
        )
        self.containers[request.name] = info
        self.created.add(info.id)

    def start(self, name: str) -> None:
        super().start(name)
        made = self.containers[name].id in self.created
        self.containers[name] = replace(
            self.containers[name], health=self.health if made else "healthy"
        )

    def stop(self, name: str, timeout: int = 10) -> None:
        self._call(f"stop {name}")
        self.containers[name] = replace(self.containers[name], state="exited")

    def logs(self, name: str, tail: int = 10) -> str:
        return "a log line\n"


def _swap(tmp_path: Path, host: Host) -> tuple[Swapper, History, SwapPlan, ContainerSpec]:
    new = replace(
        spec({"name": "keystone", "service": "keystone", "node": "node1"}),
        config_dir=str(tmp_path / "keystone"),
    )
    host.add("keystone", spec_hash="old")
    host.ran = Tasks()
    plan = SwapPlan(
        kind="upgrade",
        service="keystone",
        new=(new,),
        backup=_task("keystone-backup", "node1", tmp_path),
        restore=_task("keystone-restore", "node1", tmp_path),
        migrate=(_task("keystone-migrate", "node1", tmp_path),),
        contract=(_task("keystone-contract", "node1", tmp_path),),
    )
    history = History(tmp_path / "history.sqlite")
    engines = cast(dict[str, Engine], {"node1": host})
    return Swapper(engines, history, lambda service: None, print, 5), history, plan, new


def test_a_stop_first_swap_journals_each_step_and_commits(tmp_path: Path) -> None:
    host = Host("node1")
    swapper, history, plan, new = _swap(tmp_path, host)
    (revision,) = swapper.run(plan)
    steps = ["planned", "backup", "migrate", "prepare-new", "stop-old", "start-new", "verify"]
    assert history.journal(1) == [*steps, "commit", "contract", "done"]
    ran = ["node1/keystone-backup", "node1/keystone-migrate", "node1/keystone-contract"]
    assert host.ran.tasks == ran
    found = history.revision(revision)
    assert found is not None and found.status == RevisionStatus.HEALTHY
    assert host.containers["keystone"].labels == new.labels()
    assert "keystone" + OLD_SUFFIX not in host.containers
    op = history.operation(1)
    assert op is not None and Journal.from_dict(op.data).db_changed


def test_a_new_version_that_fails_is_reverted_and_the_dump_restored(tmp_path: Path) -> None:
    host = Host("node1", health="unhealthy")
    swapper, history, plan, _ = _swap(tmp_path, host)
    with pytest.raises(DeployFailed, match="upgrade of keystone failed and was rolled back"):
        swapper.run(plan)
    assert history.journal(1)[-3:] == ["verify", "revert", "reverted"]
    assert host.ran.tasks[-1] == "node1/keystone-restore"
    (revision,) = history.revisions("keystone")
    assert revision.status == RevisionStatus.ROLLED_BACK
    # The old container is back under its name, running.
    assert host.containers["keystone"].labels.get("colla.spec-hash") == "old"
    assert host.containers["keystone"].state == "running"
    assert history.unfinished() == []
