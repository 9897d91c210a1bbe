"""The all-in-one cloud stops cleanly: the last all-in-one module (the lab after it
stops the cloud anyway).

Every container must stop on SIGTERM within `colla stop`'s timeout. One that does not
is SIGKILLed by the engine (exit code 137): RabbitMQ was, on every stop and engine
restart, because Debian's wrapper script stayed PID 1 without a SIGTERM handler; it
also hid the broker's log from `colla logs`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from colla.model.specs import LABEL_MANAGED

pytestmark = pytest.mark.e2e

SIGKILLED = 137


def test_the_broker_logs_to_the_container_log(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["logs", "rabbitmq", "--tail", "50", "-c", str(config_dir)]) == 0
    assert "connection" in capsys.readouterr().out  # the services' AMQP connections


def test_stop_ends_every_container_without_sigkill(
    engine: Engine, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = {c.name for c in engine.containers(f"{LABEL_MANAGED}=true") if c.state == "running"}
    assert "rabbitmq" in running
    assert run(["stop", "-c", str(config_dir)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("stopped ")]
    # Dependents first: the broker and the database after every service that uses them.
    order = [line.rsplit("/", 1)[1] for line in lines]
    assert set(order) == running
    assert order.index("rabbitmq") > order.index("nova_compute"), order
    assert order.index("mariadb") > order.index("keystone"), order
    after = {c.name: c for c in engine.containers(f"{LABEL_MANAGED}=true")}
    assert {n: after[n].state for n in running} == dict.fromkeys(running, "exited")
    killed = {n: after[n].exit_code for n in running if after[n].exit_code == SIGKILLED}
    assert killed == {}, f"SIGKILLed after the stop timeout: {killed}"
