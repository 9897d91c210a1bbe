"""The swap state machine on fake engines: a stop-first swap journals its steps in order
and commits; a swap that fails at any step is reverted (the database restored only when a
step changed it), leaves the old version serving and its journal saying how far it got;
behind HAProxy, a failed health wait or switch puts the old servers back in service; and
a swap killed at any step is reverted by recovery, or completed once it had committed."""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from colla.deploy.executor import Executor
from colla.engine.containers import ContainerRequest
from colla.errors import CollaError, DeployFailed
from colla.history.store import History, RevisionStatus
from colla.model.specs import LABEL_HASH, TASK_PREFIX, ContainerSpec
from colla.upgrade import haproxy
from colla.upgrade import swap as swap_module
from colla.upgrade.journal import Journal
from colla.upgrade.revert import NEXT_SUFFIX, OLD_SUFFIX
from colla.upgrade.swap import KILL_ENV, Swapper, SwapPlan, recover
from tests.fakes import FakeEngine, task_spec
from tests.unit.test_plan import spec


def _passes(service: str) -> None:
    """A functional check that passes."""


def _swap(
    tmp_path: Path, host: FakeEngine, check: Callable[[str], None] = _passes
) -> tuple[Swapper, History, SwapPlan, ContainerSpec]:
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
    return Swapper(Executor({"node1": host}, print, 5), history, check), history, plan, new


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


def test_a_swap_does_its_steps_through_the_executor_a_deploy_uses(tmp_path: Path) -> None:
    """One executor: what a swap did on a node is recorded as a deploy's is."""
    host = FakeEngine("node1")
    swapper, _, plan, _ = _swap(tmp_path, host)
    swapper.run(plan)
    assert swapper.executor.done["node1"] == [
        "ran keystone-backup",
        "ran keystone-migrate",
        "created keystone" + NEXT_SUFFIX,
        "stopped keystone",
        f"renamed keystone to keystone{OLD_SUFFIX}",
        f"renamed keystone{NEXT_SUFFIX} to keystone",
        "started keystone",
        "ran keystone-contract",
    ]


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


def _old_serves(host: FakeEngine, history: History) -> None:
    """The revert's end state: the old container back under its name and running, the
    new one and the kept one gone, the revision rolled back, nothing left to recover."""
    assert host.stored["keystone"].info.labels.get(LABEL_HASH) == "old"
    assert host.state("keystone") == "running"
    assert {"keystone" + NEXT_SUFFIX, "keystone" + OLD_SUFFIX}.isdisjoint(host.stored)
    (revision,) = history.revisions("keystone")
    assert revision.status == RevisionStatus.ROLLED_BACK
    assert history.unfinished() == []


def _failing(message: str) -> Callable[[str], None]:
    def check(service: str) -> None:
        raise CollaError(message)

    return check


BEFORE = ["planned", "backup"]
MIGRATED = [*BEFORE, "migrate"]
# (the failure, the steps journalled up to it, whether the dump is restored)
STOP_FIRST_FAILURES = {
    "backup": (BEFORE, False),
    "migrate": (MIGRATED, True),
    "prepare-new": ([*MIGRATED, "prepare-new"], True),
    "stop-old": ([*MIGRATED, "prepare-new", "stop-old"], True),
    "start-new": ([*MIGRATED, "prepare-new", "stop-old", "start-new"], True),
    "check": ([*MIGRATED, "prepare-new", "stop-old", "start-new", "verify"], True),
}


@pytest.mark.parametrize("failure", STOP_FIRST_FAILURES)
def test_a_failure_at_each_step_is_reverted_and_journalled(tmp_path: Path, failure: str) -> None:
    host = FakeEngine("node1")
    check = _failing("the token API answers 500") if failure == "check" else _passes
    swapper, history, plan, _ = _swap(tmp_path, host, check)
    if failure in ("backup", "migrate"):
        host.results[f"{TASK_PREFIX}keystone-{failure}"] = (1, f"{failure} failed")
    elif failure == "prepare-new":
        host.fail_next("create keystone" + NEXT_SUFFIX)
    elif failure == "stop-old":
        host.fail_next("stop keystone")
    elif failure == "start-new":
        host.fail_next("start keystone")
    with pytest.raises(DeployFailed, match="upgrade of keystone failed and was rolled back"):
        swapper.run(plan)
    steps, restored = STOP_FIRST_FAILURES[failure]
    assert history.journal(1) == [*steps, *(["revert"] if restored else []), "reverted"]
    assert (TASK_PREFIX + "keystone-restore" in host.tasks) is restored
    _old_serves(host, history)


class HAProxy:
    """HAProxy's runtime API as the swap drives it: server states set, in order; the
    ``fail_wait``-th wait (1-based) times out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_wait: int | None = None) -> None:
        self.states: list[tuple[str, str, str]] = []
        self.waits = 0
        self.fail_wait = fail_wait
        monkeypatch.setattr(haproxy, "set_state", self.set_state)
        monkeypatch.setattr(haproxy, "wait_for", self.wait_for)

    def set_state(self, backend: str, server: str, state: str) -> None:
        self.states.append((backend, server, state))

    def wait_for(self, backend: str, want: dict[str, tuple[str | None, int | None]]) -> None:
        self.waits += 1
        if self.waits == self.fail_wait:
            raise CollaError(f"HAProxy backend {backend}: {want} not reached in 30 s")


BACKEND = ("keystone_api", ("keystone-a",), ("keystone-b",))
OVERLAP = [*MIGRATED, "start-new", "verify"]


def _behind_haproxy(plan: SwapPlan) -> SwapPlan:
    return replace(plan, overlap=True, haproxy=(BACKEND,))


def test_an_overlapping_swap_drains_the_old_servers_and_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FakeEngine("node1")
    proxy = HAProxy(monkeypatch)
    swapper, history, plan, new = _swap(tmp_path, host)
    swapper.run(_behind_haproxy(plan))
    done = ["switch", "stop-old", "commit", "contract", "done"]
    assert history.journal(1) == [*OVERLAP, *done]
    assert proxy.states == [("keystone_api", "keystone-a", s) for s in ("drain", "ready")]
    assert host.stored["keystone"].info.labels == new.labels()
    assert host.state("keystone") == "running"


def test_the_new_containers_load_at_a_low_cpu_weight_until_traffic_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old API serves while the new one loads: on two cores an equal weight let the
    # new containers' start starve it, and HAProxy took it for dead (503s).
    host = FakeEngine("node1")
    HAProxy(monkeypatch)
    swapper, _, plan, _ = _swap(tmp_path, host)
    swapper.run(_behind_haproxy(plan))
    assert host.stored["keystone"].request is not None
    assert host.stored["keystone"].request.cpu_shares == 1024
    created = host.calls.index(f"create keystone{NEXT_SUFFIX}")
    raised = host.calls.index(f"cpu-shares keystone{NEXT_SUFFIX} 1024")
    drained = host.calls.index("stop keystone")
    assert created < raised < drained


def test_a_stop_first_swap_starts_the_new_containers_at_a_low_cpu_weight(
    tmp_path: Path,
) -> None:
    # The rest of the cloud serves meanwhile: during a password rotation under load,
    # restarted agents at the full weight starved Keystone into 5 s timeouts.
    host = FakeEngine("node1")
    weights: dict[str, int | None] = {}
    create = host.create_container

    def created_with(request: ContainerRequest) -> str:
        weights[request.name] = request.cpu_shares
        return create(request)

    host.create_container = created_with  # type: ignore[method-assign]
    swapper, _, plan, _ = _swap(tmp_path, host)
    swapper.run(plan)
    assert weights == {f"keystone{NEXT_SUFFIX}": 64}
    assert host.stored["keystone"].request is not None
    assert host.stored["keystone"].request.cpu_shares == 1024
    created = host.calls.index(f"create keystone{NEXT_SUFFIX}")
    started = host.calls.index("start keystone")
    raised = host.calls.index("cpu-shares keystone 1024")
    assert created < started < raised


def test_a_failed_health_wait_behind_haproxy_leaves_the_old_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FakeEngine("node1", health="unhealthy")
    proxy = HAProxy(monkeypatch)
    swapper, history, plan, _ = _swap(tmp_path, host)
    with pytest.raises(DeployFailed, match=r"keystone-colla-next is unhealthy"):
        swapper.run(_behind_haproxy(plan))
    assert history.journal(1) == [*OVERLAP, "revert", "reverted"]
    # Never stopped: the old container served throughout.
    assert not any(c.startswith("stop ") for c in host.calls)
    assert proxy.states == [("keystone_api", "keystone-a", "ready")]
    _old_serves(host, history)


def test_a_switch_that_fails_after_the_drain_puts_the_old_servers_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FakeEngine("node1")
    proxy = HAProxy(monkeypatch, fail_wait=2)  # the wait for the drained servers
    swapper, history, plan, _ = _swap(tmp_path, host)
    with pytest.raises(DeployFailed, match="not reached in 30 s"):
        swapper.run(_behind_haproxy(plan))
    assert history.journal(1) == [*OVERLAP, "switch", "revert", "reverted"]
    assert proxy.states == [("keystone_api", "keystone-a", s) for s in ("drain", "ready")]
    assert host.tasks[-1] == TASK_PREFIX + "keystone-restore"
    _old_serves(host, history)


def test_a_failed_contract_leaves_the_new_version_serving(tmp_path: Path) -> None:
    host = FakeEngine("node1")
    host.results[TASK_PREFIX + "keystone-contract"] = (1, "contract failed")
    swapper, history, plan, new = _swap(tmp_path, host)
    with pytest.raises(DeployFailed, match="serves, but contract failed"):
        swapper.run(plan)
    assert history.journal(1)[-3:] == ["commit", "contract", "done"]
    (revision,) = history.revisions("keystone")
    assert revision.status == RevisionStatus.HEALTHY
    assert "contract failed" in revision.note
    assert host.stored["keystone"].info.labels == new.labels()
    assert history.unfinished() == []


class Killed(BaseException):
    """colla killed: no except clause of the swap catches it, as none catches SIGKILL."""


# (the step colla is killed at, once journalled; whether recovery completes the swap)
KILLED_AT = {
    "backup": False,
    "migrate": False,
    "prepare-new": False,
    "stop-old": False,
    "start-new": False,
    "verify": False,
    "commit": True,
    "contract": True,
}


@pytest.mark.parametrize("step", KILLED_AT)
def test_a_swap_killed_at_each_step_is_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    def kill(pid: int, sig: int) -> None:
        raise Killed(step)

    fake_os = types.SimpleNamespace(environ={KILL_ENV: step}, getpid=os.getpid, kill=kill)
    monkeypatch.setattr(swap_module, "os", fake_os)
    host = FakeEngine("node1")
    swapper, history, plan, new = _swap(tmp_path, host)
    with pytest.raises(Killed):
        swapper.run(plan)
    assert [o.step for o in history.unfinished()] == [step]
    monkeypatch.undo()
    (done,) = recover(swapper, history, print)
    if KILLED_AT[step]:
        assert done == "upgrade of keystone completed"
        assert host.stored["keystone"].info.labels == new.labels()
        assert "keystone" + OLD_SUFFIX not in host.stored
        (revision,) = history.revisions("keystone")
        assert revision.status == RevisionStatus.HEALTHY
    else:
        assert done == "upgrade of keystone reverted"
        restored = TASK_PREFIX + "keystone-restore" in host.tasks
        assert restored is (step != "backup")  # the migration is journalled before it runs
        _old_serves(host, history)
    assert history.unfinished() == []


def test_a_dump_that_does_not_prove_stops_the_swap_before_it_migrates(tmp_path: Path) -> None:
    host = FakeEngine("node1")
    swapper, history, plan, _ = _swap(tmp_path, host)
    plan = replace(plan, backup_name="keystone-20261207T050000Z")
    proven: list[str] = []

    def prove(name: str) -> None:
        proven.append(name)
        raise CollaError(f"the dump {name}.sql did not load into a scratch server")

    swapper.prove = prove
    with pytest.raises(CollaError, match="did not load into a scratch server"):
        swapper.run(plan)
    assert proven == ["keystone-20261207T050000Z"]
    # Nothing migrated, so nothing is restored, and the old version serves on.
    assert [t.removeprefix(TASK_PREFIX) for t in host.tasks] == ["keystone-backup"]
    assert host.stored["keystone"].info.labels == {LABEL_HASH: "old"}
    op = history.operation(1)
    assert op is not None and op.state == "reverted"
