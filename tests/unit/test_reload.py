"""Changed config files applied in place (the catalog's ``reload``, HAProxy's renewed
certificates): the plan says reload instead of recreate only where nothing else changed,
the applier installs, checks, signals and records without stopping the container, a
failed check signals nothing, and the next plan sees the container as reloaded."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy import reloads
from colla.deploy.apply import Applier
from colla.deploy.deployment import observe
from colla.deploy.executor import Executor
from colla.deploy.plan import Action, Observed, make_plan
from colla.deploy.reloads import RECORD
from colla.errors import DeployFailed
from colla.model.specs import LABEL_MANAGED, ContainerSpec, NodeSpecs, Reload
from tests.fakes import FakeEngine
from tests.unit.test_plan import spec

NODE = "node1"
CHECK = ("haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg")


def _haproxy(tmp_path: Path, content: str, **extra: object) -> ContainerSpec:
    made = spec({"name": "haproxy", "service": "haproxy", "files": {"cert.pem": content}, **extra})
    return replace(
        made, config_dir=str(tmp_path / "haproxy"), reload=Reload(signal="SIGUSR2", check=CHECK)
    )


def _plan(new: ContainerSpec, running: ContainerSpec, state: str = "running") -> list[str]:
    seen = {NODE: [Observed(running.name, NODE, state, running.labels())]}
    plan = make_plan({NODE: NodeSpecs(NODE, (new,), {})}, seen, {"haproxy"})
    return [f"{c.action} {'; '.join(c.reasons)}" for c in plan.changes] + [
        f"{s.kind}: {s.reason}" for s in plan.steps
    ]


def test_a_changed_file_is_reloaded_and_anything_else_recreates(tmp_path: Path) -> None:
    old = _haproxy(tmp_path, "old certificate")
    new = _haproxy(tmp_path, "new certificate")
    assert _plan(new, old) == [
        "reload config file cert.pem changed",
        "write config: container to reload",
    ]
    # Not running, another image, or no reload declared: the container is recreated.
    assert _plan(new, old, "exited")[0].startswith("recreate")
    other_image = _haproxy(tmp_path, "new certificate", image_id="sha256:fedcba9876543210")
    assert _plan(other_image, old)[0].startswith("recreate image changed")
    assert _plan(replace(new, reload=None), old)[0] == "recreate config file cert.pem changed"


def _engine_running(old: ContainerSpec, **results: tuple[int, str]) -> FakeEngine:
    engine = FakeEngine(NODE, results=dict(results))
    engine.add(old.name, labels=old.labels())
    return engine


def _apply(engine: FakeEngine, new: ContainerSpec) -> None:
    nodes = {NODE: NodeSpecs(NODE, (new,), {})}
    plan = make_plan(nodes, observe({NODE: engine}, nodes), {"haproxy"})
    Applier(Executor({NODE: engine}, print, 10), load_services()).apply(plan)


def test_a_reload_installs_checks_signals_then_records(tmp_path: Path) -> None:
    old = _haproxy(tmp_path, "old certificate")
    new = _haproxy(tmp_path, "new certificate")
    engine = _engine_running(old)
    before = engine.stored["haproxy"].info.id
    _apply(engine, new)
    did = [c for c in engine.calls if c.startswith(("exec", "signal", "create", "stop", "remove"))]
    assert did == [
        "exec haproxy cat",  # observing: was it reloaded before?
        "exec haproxy python3",  # colla-start's installer
        "exec haproxy haproxy",  # the check
        "signal haproxy SIGUSR2",
        "exec haproxy python3",  # the record, once applied
    ]
    assert engine.stored["haproxy"].info.id == before
    assert (tmp_path / "haproxy" / "cert.pem").read_text() == "new certificate"
    record = json.loads(engine.execs[3][1][3])
    assert engine.execs[3][1][-1] == RECORD
    assert record == {"hash": new.spec_hash, "spec": new.public()}

    # The next plan reads the record in the container: nothing left to do.
    engine.results["exec haproxy cat"] = (0, engine.execs[3][1][3])
    nodes = {NODE: NodeSpecs(NODE, (new,), {})}
    assert make_plan(nodes, observe({NODE: engine}, nodes), {"haproxy"}).is_noop
    # A later change is planned against the reloaded spec, not the labels.
    newer = _haproxy(tmp_path, "newer certificate")
    (change,) = make_plan(
        {NODE: NodeSpecs(NODE, (newer,), {})}, observe({NODE: engine}, nodes), {"haproxy"}
    ).changes
    assert change.action is Action.RELOAD


def test_a_failed_check_signals_nothing_and_says_why(tmp_path: Path) -> None:
    old = _haproxy(tmp_path, "old certificate")
    new = _haproxy(tmp_path, "new certificate")
    engine = _engine_running(old, **{"exec haproxy haproxy": (1, "[ALERT] unable to load cert")})
    with pytest.raises(DeployFailed, match=r"fails `haproxy -c .*unable to load cert.*old one"):
        _apply(engine, new)
    assert not [c for c in engine.calls if c.startswith("signal")]
    assert [argv[0] for _, argv in engine.execs] == ["cat", "python3", "haproxy"]


def test_an_unreadable_record_falls_back_to_the_labels(tmp_path: Path) -> None:
    old = _haproxy(tmp_path, "old certificate")
    new = _haproxy(tmp_path, "new certificate")
    engine = _engine_running(old, **{"exec haproxy cat": (0, "not json")})
    nodes = {NODE: NodeSpecs(NODE, (new,), {})}
    (change,) = make_plan(nodes, observe({NODE: engine}, nodes), {"haproxy"}).changes
    assert change.action is Action.RELOAD
    assert engine.containers(f"{LABEL_MANAGED}=true")[0].labels == old.labels()


def test_a_reload_limited_to_some_files_recreates_for_the_others(tmp_path: Path) -> None:
    """RabbitMQ takes a new certificate live, not a new rabbitmq.conf."""
    how = Reload(command=("rabbitmqctl", "eval", "ssl:clear_pem_cache()."), files=("cert.pem",))

    def broker(cert: str, conf: str) -> ContainerSpec:
        made = spec(
            {"name": "rabbitmq", "service": "rabbitmq", "files": {"cert.pem": cert, "r.conf": conf}}
        )
        return replace(made, config_dir=str(tmp_path / "rabbitmq"), reload=how)

    old = broker("old", "a = 1")
    seen = {NODE: [Observed("rabbitmq", NODE, "running", old.labels())]}
    for new, action in (
        (broker("new", "a = 1"), Action.RELOAD),
        (broker("new", "a = 2"), Action.RECREATE),
    ):
        (change,) = make_plan({NODE: NodeSpecs(NODE, (new,), {})}, seen, {"rabbitmq"}).changes
        assert change.action is action

    engine = FakeEngine(NODE, results={"exec rabbitmq rabbitmqctl": (2, "Error: unable to reach")})
    engine.add("rabbitmq", labels=old.labels())
    nodes = {NODE: NodeSpecs(NODE, (broker("new", "a = 1"),), {})}
    plan = make_plan(nodes, observe({NODE: engine}, nodes), {"rabbitmq"})
    with pytest.raises(
        DeployFailed, match=r"`rabbitmqctl eval .*` failed \(Error: unable to reach\)"
    ):
        Applier(Executor({NODE: engine}, print, 10), load_services()).apply(plan)
    # Not recorded: the next deploy tries again.
    assert [argv[0] for _, argv in engine.execs] == ["cat", "python3", "rabbitmqctl"]


def test_haproxy_declares_its_reload() -> None:
    (container,) = load_services()["haproxy"].containers
    assert container.reload is not None and container.reload.signal == "SIGUSR2"
    assert container.command is not None and "-W" in container.command.split()
    (broker,) = load_services()["rabbitmq"].containers
    assert broker.reload is not None and broker.reload.command is not None


def test_the_installer_script_runs_colla_starts_own_install(tmp_path: Path) -> None:
    """The script a reload runs in the container, run here against colla/start.py: the
    files of config.json are installed (owner, mode), as colla-start does at start."""
    source = tmp_path / "config" / "cert.pem"
    source.parent.mkdir()
    source.write_text("new certificate")
    dest = tmp_path / "etc" / "certs" / "cert.pem"
    me = f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
    config = {
        "command": "true",
        "config_files": [{"source": str(source), "dest": str(dest), "owner": me, "perm": "0600"}],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    start = Path(reloads.__file__).resolve().parents[1] / "start.py"
    done = subprocess.run(
        [sys.executable, "-c", reloads._INSTALL, str(start)],
        env={**os.environ, "COLLA_CONFIG": str(tmp_path / "config.json")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert dest.read_text() == "new certificate"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_a_container_that_cannot_be_asked_is_planned_from_its_labels(tmp_path: Path) -> None:
    old = _haproxy(tmp_path, "old certificate")
    new = _haproxy(tmp_path, "new certificate")
    engine = _engine_running(old)
    engine.fail_next("exec haproxy cat")
    nodes = {NODE: NodeSpecs(NODE, (new,), {})}
    (change,) = make_plan(nodes, observe({NODE: engine}, nodes), {"haproxy"}).changes
    assert change.action is Action.RELOAD
