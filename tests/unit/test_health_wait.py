"""Waiting for a container to serve: colla runs the container's own healthcheck instead
of waiting out the engine's interval, and a command still ends with the engine saying
healthy (``Executor.settle``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy import tasks
from colla.deploy.apply import Applier
from colla.deploy.executor import Executor
from colla.deploy.plan import make_plan
from colla.engine.containers import ContainerInfo
from colla.engine.probe import probe_command
from colla.errors import DeployFailed
from colla.model.specs import ContainerSpec, NodeSpecs
from tests.fakes import FakeEngine
from tests.unit.test_plan import spec as make_spec

SECOND = 1_000_000_000


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "PAUSE", 0.0)


def test_probe_command_runs_the_declared_check_bounded_by_its_timeout() -> None:
    shell = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -sf http://x/"], "Timeout": 5 * SECOND}}
    assert probe_command(shell) == ["timeout", "5", "/bin/sh", "-c", "curl -sf http://x/"]
    argv = {"Healthcheck": {"Test": ["CMD", "true", "x"]}}
    assert probe_command(argv) == ["timeout", "30", "true", "x"]
    assert probe_command({"Healthcheck": {"Test": ["NONE"]}}) is None
    assert probe_command({}) is None


@dataclass
class Catching(FakeEngine):
    """The engine says "starting" until ``after`` more looks at the container."""

    after: int = 3

    def container(self, name: str) -> ContainerInfo | None:
        found = super().container(name)
        if found is None or found.health != "starting":
            return found
        self.after -= 1
        if self.after > 0:
            return found
        stored = next(s for s in self.stored.values() if s.info.id == found.id)
        stored.info = replace(stored.info, health="healthy")
        return stored.info


def _memcached(node: str, config_root: Path) -> ContainerSpec:
    made = make_spec({"name": "memcached", "service": "memcached", "node": node})
    return replace(made, config_dir=str(config_root / node / "memcached"))


def _starting(engine: FakeEngine) -> None:
    engine.add("memcached", health="starting")


def test_a_passing_probe_ends_the_wait_before_the_engine_says_healthy() -> None:
    engine = Catching("node1", after=1000)
    _starting(engine)
    tasks.wait_healthy(engine, "node1", "memcached", 5)
    assert "probe memcached" in engine.calls
    assert engine.state("memcached") == "running"


def test_a_failing_probe_waits_for_the_engine() -> None:
    engine = Catching("node1", probe=False, after=3)
    _starting(engine)
    tasks.wait_healthy(engine, "node1", "memcached", 5)
    assert engine.calls.count("probe memcached") == 2


def test_without_probe_only_the_engine_counts() -> None:
    engine = Catching("node1", after=2)
    _starting(engine)
    tasks.wait_healthy(engine, "node1", "memcached", 5, probe=False)
    assert "probe memcached" not in engine.calls


def test_a_container_that_never_serves_times_out() -> None:
    engine = FakeEngine("node1", probe=False)
    _starting(engine)
    with pytest.raises(DeployFailed, match="node1/memcached not healthy after 0 s"):
        tasks.wait_healthy(engine, "node1", "memcached", 0)


def test_settle_waits_for_the_engine_and_skips_what_was_removed() -> None:
    engine = Catching("node1", after=4)
    _starting(engine)
    engine.add("gone", health="starting")
    executor = Executor({"node1": engine}, print, 5)
    executor.wait_healthy("node1", "memcached")
    executor.wait_healthy("node1", "gone")
    engine.remove_container("gone")
    assert engine.stored["memcached"].info.health == "starting"
    executor.settle()
    assert engine.stored["memcached"].info.health == "healthy"
    executor.settle()  # nothing left to settle


def test_settle_names_a_container_that_died_after_serving() -> None:
    engine = FakeEngine("node1")
    _starting(engine)
    executor = Executor({"node1": engine}, print, 5)
    executor.wait_healthy("node1", "memcached")
    stored = engine.stored["memcached"]
    stored.info = replace(stored.info, state="exited", health="unhealthy", exit_code=1)
    with pytest.raises(DeployFailed, match=r"^node1/memcached is unhealthy \(exit code 1\)"):
        executor.settle()


def test_a_deploy_ends_with_the_engine_reporting_healthy(tmp_path: Path) -> None:
    """The next level starts when the probe passes; the command returns only when the
    engine agrees, so `colla status` right after a deploy shows healthy."""
    engine = Catching("node1", health="starting", after=3)
    spec = _memcached("node1", tmp_path)
    plan = make_plan({"node1": NodeSpecs("node1", (spec,), {})}, {}, {"memcached"})
    Applier(Executor({"node1": engine}, print, 5), load_services()).apply(plan)
    assert "probe memcached" in engine.calls
    assert engine.stored["memcached"].info.health == "healthy"
