"""The swap state machine on fake engines: a stop-first swap journals its steps in order
and commits; a swap whose new version fails its health check is reverted, restoring the
database it changed, and its revisions are recorded rolled back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from colla.deploy.specs import LABEL_HASH, TASK_PREFIX, ContainerSpec
from colla.errors import DeployFailed
from colla.history.store import History, RevisionStatus
from colla.upgrade.journal import Journal
from colla.upgrade.revert import OLD_SUFFIX
from colla.upgrade.swap import Swapper, SwapPlan
from tests.fakes import FakeEngine, task_spec
from tests.unit.test_plan import spec


def _swap(tmp_path: Path, host: FakeEngine) -> tuple[Swapper, History, SwapPlan, ContainerSpec]:
    new = replace(
        spec({"name": "keystone", "service": "keystone", "node": "node1"}),
        config_dir=str(tmp_path / "keystone"),
    )
    host.add("keystone", labels={LABEL_HASH: "old"})
    plan = SwapPlan(
        kind="upgrade",
        service="keystone",
        new=(new,),
        backup=task_spec("keystone-backup", "node1", tmp_path),
        restore=task_spec("keystone-restore", "node1", tmp_path),
        migrate=(task_spec("keystone-migrate", "node1", tmp_path),),
        contract=(task_spec("keystone-contract", "node1", tmp_path),),
    )
    history = History(tmp_path / "history.sqlite")
    return Swapper({"node1": host}, history, lambda service: None, print, 5), history, plan, new


def test_a_stop_first_swap_journals_each_step_and_commits(tmp_path: Path) -> None:
    host = FakeEngine("node1")
    swapper, history, plan, new = _swap(tmp_path, host)
    (revision,) = swapper.run(plan)
    steps = ["planned", "backup", "migrate", "prepare-new", "stop-old", "start-new", "verify"]
    assert history.journal(1) == [*steps, "commit", "contract", "done"]
    ran = ["keystone-backup", "keystone-migrate", "keystone-contract"]
    assert [t.removeprefix(TASK_PREFIX) for t in host.tasks] == ran
    found = history.revision(revision)
    assert found is not None and found.status == RevisionStatus.HEALTHY
    assert host.stored["keystone"].info.labels == new.labels()
    assert "keystone" + OLD_SUFFIX not in host.stored
    op = history.operation(1)
    assert op is not None and Journal.from_dict(op.data).db_changed


def test_a_new_version_that_fails_is_reverted_and_the_dump_restored(tmp_path: Path) -> None:
    host = FakeEngine("node1", health="unhealthy")
    swapper, history, plan, _ = _swap(tmp_path, host)
    with pytest.raises(DeployFailed, match="upgrade of keystone failed and was rolled back"):
        swapper.run(plan)
    assert history.journal(1)[-3:] == ["verify", "revert", "reverted"]
    assert host.tasks[-1] == TASK_PREFIX + "keystone-restore"
    (revision,) = history.revisions("keystone")
    assert revision.status == RevisionStatus.ROLLED_BACK
    # The old container is back under its name, running.
    assert host.stored["keystone"].info.labels.get(LABEL_HASH) == "old"
    assert host.state("keystone") == "running"
    assert history.unfinished() == []
