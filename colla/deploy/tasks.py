"""One-shot task containers and health waits on one node's engine.

A deploy (the applier) and a swap (upgrade, rollback, recovery) both run bootstrap
steps and wait for containers to turn healthy; neither owns the other, so both use these.
Backups, restores and key rotation run their tasks here too, some for their output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from colla.deploy import nodefiles
from colla.engine import ContainerRequest, Engine
from colla.errors import BadInput, DeployFailed
from colla.model.specs import CONFIG_MOUNT, LABEL_TASK, TASK_PREFIX, TaskSpec

LOG_TAIL = 15
# The CPU weight of a background task: 1/16 of a container's default (1024), so that a
# deploy's early steps use what its longest chain of work leaves of the CPU.
BACKGROUND_SHARES = 64
DEFAULT_SHARES = 1024  # Docker's, for a container made without a weight
PAUSE = 1.0  # seconds between looks at a starting container


def task_request(task: TaskSpec, background: bool = False) -> ContainerRequest:
    """The engine request of a one-shot bootstrap container; a ``background`` one gets
    the CPU only when the others leave it some."""
    return ContainerRequest(
        name=TASK_PREFIX + task.name,
        image=task.image_id,
        labels={LABEL_TASK: task.name},
        volumes=dict(task.volumes),
        binds={task.config_dir: f"{CONFIG_MOUNT}:ro"},
        restart=None,
        cpu_shares=BACKGROUND_SHARES if background else None,
    )


def run_task(
    engine: Engine,
    node: str,
    task: TaskSpec,
    say: Callable[[str], None],
    what: str = "bootstrap step",
    background: bool = False,
) -> None:
    """Run a one-shot task on ``node``; DeployFailed with its last lines when it fails.
    ``what`` names the kind of step in what is said (bench/deploy reads the default)."""
    say(f"{node}/{task.name}: running {what}")
    started = time.monotonic()
    code, output = engine.run_to_completion(task_request(task, background))
    if code != 0:
        raise DeployFailed(
            f"{what} {task.name} on {node} failed with exit code {code}",
            _tail(output),
        )
    say(f"{node}/{task.name}: done ({time.monotonic() - started:.1f} s)")


def wait_healthy(engine: Engine, node: str, name: str, timeout: int, probe: bool = True) -> str:
    """Wait until the container serves; fail fast when it dies. Returns its ID.

    It serves when the engine reports it healthy or, with ``probe``, as soon as its own
    healthcheck passes when colla runs it (the engine runs it only every interval; see
    colla.engine.probe). The engine's status then catches up at its next check:
    ``wait_healthy(..., probe=False)`` waits for that.
    """
    deadline = time.monotonic() + timeout
    while True:
        info = engine.container(name)
        if info is None:
            raise DeployFailed(f"{node}/{name} disappeared while starting")
        if info.state == "running" and info.health in ("healthy", None):
            return info.id
        failed = info.state in ("exited", "dead") or info.health == "unhealthy"
        if failed or info.state == "restarting" or time.monotonic() > deadline:
            if failed or info.state == "restarting":
                reason = f"is {info.health or info.state} (exit code {info.exit_code})"
            else:
                reason = f"not healthy after {timeout} s"
            raise DeployFailed(
                f"{node}/{name} {reason}; its last log lines:",
                _tail(engine.logs(name, tail=LOG_TAIL)),
            )
        if probe and info.state == "running" and engine.probe_health(name):
            return info.id
        time.sleep(PAUSE)


def _tail(output: str) -> tuple[str, ...]:
    """The last lines of a container's output, for an error's details."""
    return tuple(output.rstrip().splitlines()[-LOG_TAIL:])


def resolved(engines: Mapping[str, Engine], task: TaskSpec) -> TaskSpec:
    """The task with its image's ID on its node; BadInput when the node lacks it."""
    engine = engines.get(task.node)
    if engine is None:
        raise BadInput(f"--limit leaves out node {task.node}, where {task.name} runs: include it")
    info = engine.image(task.image)
    if info is None:
        raise BadInput(f"image {task.image} is missing on {task.node}: build it (colla build)")
    return replace(task, image_id=info.id)


def last_lines(output: str, count: int = 3) -> str:
    """A failed task's last lines, on one line: what a one-line error quotes of it."""
    return " / ".join(output.strip().splitlines()[-count:])


def run_collecting(engines: Mapping[str, Engine], task: TaskSpec) -> tuple[int, str]:
    """Write the task's config on its node and run it there: its exit code and output."""
    ready = resolved(engines, task)
    nodefiles.write_config(engines[ready.node], ready)
    return engines[ready.node].run_to_completion(task_request(ready))
