"""The plan's steps: volumes, config directories and bootstrap tasks are in the plan, and
the applier runs them and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy.apply import Applier
from colla.deploy.executor import Executor
from colla.deploy.nodefiles import config_differs, write_config_dir
from colla.deploy.plan import Observed, Plan, make_plan
from colla.deploy.steps import StepKind
from colla.errors import DeployFailed
from colla.model.specs import ContainerSpec, NodeSpecs, RenderedFile, TaskSpec
from tests.fakes import FakeEngine
from tests.unit.test_plan import spec

NODE = "node1"


def _container(config_root: Path) -> ContainerSpec:
    made = spec({"name": "memcached", "service": "memcached", "volumes": {"cache": "/var/x"}})
    return ContainerSpec(**{**vars(made), "config_dir": str(config_root / "memcached")})


def _task(config_root: Path, name: str, volumes: tuple[tuple[str, str], ...] = ()) -> TaskSpec:
    return TaskSpec(
        name, "memcached", NODE, "colla/memcached:zed", "sha256:0123456789abcdef",
        str(config_root / name), (RenderedFile("t.conf", "/etc/t.conf", "root", "0600", "t\n"),),
        volumes,
    )  # fmt: skip


def _node(config_root: Path) -> dict[str, NodeSpecs]:
    tasks = {"memcached": (_task(config_root, "warm", (("seed", "/seed"),)),)}
    post = {"memcached": (_task(config_root, "check"),)}
    return {NODE: NodeSpecs(NODE, (_container(config_root),), tasks, post)}


def _steps(plan: Plan) -> list[tuple[str, str, str]]:
    return [(str(s.kind), s.target, s.reason) for s in plan.steps]


def test_a_new_service_plans_its_volumes_config_and_tasks_in_order(tmp_path: Path) -> None:
    plan = make_plan(_node(tmp_path), {}, {"memcached"}, {NODE: frozenset({"seed"})})
    assert _steps(plan) == [
        ("create volume", "cache", "missing"),
        ("write config", "memcached", "container to start"),
        ("write config", "warm", "bootstrap step to run"),
        ("write config", "check", "bootstrap step to run"),
        ("bootstrap", "warm", "memcached containers are created"),
        ("after start", "check", "memcached containers are created"),
    ]


def _running(nodes: dict[str, NodeSpecs], state: str = "running") -> dict[str, list[Observed]]:
    return {
        n: [Observed(c.name, n, state, c.labels()) for c in s.containers] for n, s in nodes.items()
    }


def test_an_unchanged_site_plans_no_step(tmp_path: Path) -> None:
    nodes = _node(tmp_path)
    plan = make_plan(
        nodes,
        _running(nodes),
        {"memcached"},
        {NODE: frozenset({"cache", "seed"})},
        {NODE: frozenset()},
    )
    assert plan.steps == () and plan.is_noop


def test_a_drifted_config_directory_is_rewritten_without_a_bootstrap(tmp_path: Path) -> None:
    nodes = _node(tmp_path)
    drifted = {NODE: frozenset({str(tmp_path / "memcached")})}
    plan = make_plan(
        nodes, _running(nodes), {"memcached"}, {NODE: frozenset({"cache", "seed"})}, drifted
    )
    assert _steps(plan) == [("write config", "memcached", "differs from the rendered config")]
    assert not plan.is_noop and plan.actionable == []


def test_a_stopped_container_gets_its_config_but_no_bootstrap(tmp_path: Path) -> None:
    nodes = _node(tmp_path)
    volumes = {NODE: frozenset({"cache", "seed"})}
    plan = make_plan(nodes, _running(nodes, "exited"), {"memcached"}, volumes)
    assert _steps(plan) == [("write config", "memcached", "container to start")]


def _apply(engine: FakeEngine, plan: Plan) -> None:
    Applier(Executor({NODE: engine}, print, 10), load_services()).apply(plan)


def _did(engine: FakeEngine) -> list[str]:
    return [c for c in engine.calls if not c.startswith("inspect")]


def test_the_applier_runs_the_plans_steps_in_order(tmp_path: Path) -> None:
    engine = FakeEngine(NODE)
    _apply(engine, make_plan(_node(tmp_path), {}, {"memcached"}, {NODE: frozenset({"seed"})}))
    assert _did(engine) == [
        "volume cache",
        "run colla-task-warm",
        "create memcached",
        "start memcached",
        "run colla-task-check",
    ]
    for name in ("memcached", "warm", "check"):
        assert (tmp_path / name).is_dir()


def test_the_applier_does_only_what_the_plan_holds(tmp_path: Path) -> None:
    # A plan of one container start: no volume, no task, and only that directory.
    nodes = _node(tmp_path)
    engine = FakeEngine(NODE)
    engine.add("memcached", state="exited", health=None)
    plan = make_plan(nodes, _running(nodes, "exited"), {"memcached"}, {NODE: frozenset()})
    only = Plan(plan.changes, tuple(s for s in plan.steps if s.kind is not StepKind.VOLUME))
    _apply(engine, only)
    assert _did(engine) == ["start memcached"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memcached"]


def test_config_differs_sees_what_writing_would_change(tmp_path: Path) -> None:
    files = (RenderedFile("a.conf", "/etc/a.conf", "root", "0600", "a\n"),)
    directory = tmp_path / "c"
    assert config_differs(directory, files)  # missing
    write_config_dir(directory, files)
    assert not config_differs(directory, files)
    (directory / "a.conf").write_text("edited\n")
    assert config_differs(directory, files)
    write_config_dir(directory, files)
    (directory / "stray.conf").write_text("x\n")
    assert config_differs(directory, files)
    write_config_dir(directory, files)
    (directory / "a.conf").chmod(0o644)
    assert config_differs(directory, files)


def test_a_failure_names_the_containers_done_not_the_volumes(tmp_path: Path) -> None:
    # What an operator reads after a node died mid-deploy: the containers changed there.
    engine = FakeEngine(NODE, fail_on="inspect memcached")
    plan = make_plan(_node(tmp_path), {}, {"memcached"}, {NODE: frozenset({"seed"})})
    with pytest.raises(DeployFailed) as failed:
        _apply(engine, plan)
    assert str(failed.value).endswith(
        "; done there before: ran warm, created memcached, started memcached"
    )
