"""The executor: the one place where a plan's steps touch the nodes' engines.

A deploy (the applier, which converges a Plan) and a swap (upgrade, rollback and their
recovery, a journalled transaction) decide differently what to do and in what order,
but every step either takes is done here: a config directory written, a task run, a
container created from its spec, started, renamed or removed, a health wait. So both
name an unreachable node the same way, and a failure on a node says what this command
had already done there, whichever of them ran it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from colla.deploy import nodefiles, reloads
from colla.deploy.tasks import run_task, wait_healthy
from colla.engine import ContainerRequest, Engine
from colla.errors import CollaError, DeployFailed
from colla.model.specs import CONFIG_MOUNT, LABEL_MANAGED, ContainerSpec, TaskSpec

Say = Callable[[str], None]


def container_request(spec: ContainerSpec) -> ContainerRequest:
    """The engine request that creates ``spec``'s container."""
    health = spec.healthcheck
    return ContainerRequest(
        name=spec.name,
        image=spec.image_id,
        labels=spec.labels(),
        environment=dict(spec.environment),
        volumes=dict(spec.volumes),
        binds={spec.config_dir: f"{CONFIG_MOUNT}:ro"},
        health_test=health.test if health else None,
        health_interval=health.interval if health else 5,
        health_timeout=health.timeout if health else 5,
        health_retries=health.retries if health else 3,
        health_start_period=health.start_period if health else 60,
        restart=spec.restart,
        privileges=spec.privileges,
        log_limits=(spec.log.max_size, spec.log.max_file),
    )


class Executor:
    """Does steps on the engines of one command's nodes, and remembers what it did."""

    def __init__(self, engines: Mapping[str, Engine], say: Say, health_timeout: int = 300):
        self.engines = engines
        self.say = say
        self.health_timeout = health_timeout
        # What was done on each node so far: a failure says it.
        self.done: dict[str, list[str]] = {}
        # Containers seen serving before the engine said so: (node, ID, name).
        self._unsettled: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def engine(self, node: str) -> Engine:
        """The engine of ``node``; CollaError when this run cannot reach it."""
        engine = self.engines.get(node)
        if engine is None:
            raise CollaError(f"node {node} is not reachable in this run (see --limit)")
        return engine

    def write_config(self, spec: ContainerSpec | TaskSpec) -> None:
        """Write the config directory of a container or task on its node."""
        nodefiles.write_config(self.engine(spec.node), spec)

    def create_volume(self, node: str, volume: str) -> None:
        # Not listed in what a failure says was done on the node: an empty volume
        # changes nothing a rerun would trip on, and the message names containers.
        self.engine(node).create_volume(volume, {LABEL_MANAGED: "true"})

    def run_task(self, task: TaskSpec, background: bool = False) -> None:
        """Run a one-shot task on its node (its config directory written already);
        ``background``: with a low CPU weight (see tasks.task_request)."""
        run_task(self.engine(task.node), task.node, task, self.say, background=background)
        self.did(task.node, f"ran {task.name}")

    def create(
        self, spec: ContainerSpec, name: str | None = None, shares: int | None = None
    ) -> None:
        """Create ``spec``'s container, under ``name`` when given (a swap's new slot),
        with the CPU weight ``shares`` when given."""
        request = replace(container_request(spec), cpu_shares=shares)
        if name is not None:
            request = replace(request, name=name)
        self.engine(spec.node).create_container(request)
        self.did(spec.node, f"created {request.name}")

    def reload(self, spec: ContainerSpec) -> None:
        """Apply ``spec``'s files to its running container in place (its config
        directory written already) and signal it."""
        reloads.reload(self.engine(spec.node), spec)
        self.did(spec.node, f"reloaded {spec.name}")

    def start(self, node: str, name: str) -> None:
        self.engine(node).start(name)
        self.did(node, f"started {name}")

    def stop(self, node: str, name: str, timeout: int) -> None:
        self.engine(node).stop(name, timeout=timeout)
        self.did(node, f"stopped {name}")

    def set_cpu_shares(self, node: str, name: str, shares: int) -> None:
        self.engine(node).set_cpu_shares(name, shares)

    def rename(self, node: str, old: str, new: str) -> None:
        self.engine(node).rename(old, new)
        self.did(node, f"renamed {old} to {new}")

    def remove(self, node: str, name: str, record: str | None = None) -> None:
        """Remove a container, if there is one; ``record`` is how what was done on the
        node names it (None: housekeeping a failure need not mention)."""
        self.engine(node).remove_container(name)
        if record is not None:
            self.did(node, record)

    def wait_healthy(self, node: str, name: str) -> None:
        """Until the container on ``node`` serves (its healthcheck passes, run by colla
        or by the engine); DeployFailed when it dies. ``settle`` then waits for the
        engine's own status."""
        container_id = wait_healthy(self.engine(node), node, name, self.health_timeout)
        self.say(f"{node}/{name}: serving")
        with self._lock:
            self._unsettled.append((node, container_id, name))

    def settle(self) -> None:
        """Until the engine itself reports healthy every container this executor saw
        serve, so that `colla status` right after the command agrees with it. At most
        one healthcheck interval, for all of them at once; DeployFailed when one died."""
        with self._lock:
            waiting, self._unsettled = self._unsettled, []
        for node, container_id, name in waiting:
            engine = self.engine(node)
            if engine.container(container_id) is None:
                continue  # removed since, by this command (a swap's replaced slot)
            try:
                wait_healthy(engine, node, container_id, self.health_timeout, probe=False)
            except DeployFailed as e:
                named = DeployFailed(str(e).replace(container_id, name), e.details)
                raise self.failed(node, named) from e

    def did(self, node: str, what: str) -> None:
        with self._lock:
            self.done.setdefault(node, []).append(what)

    def failed(self, node: str, error: CollaError) -> DeployFailed:
        """The error, naming the node and what had already been done there."""
        with self._lock:
            done = list(self.done.get(node, ()))
        already = "; done there before: " + ", ".join(done) if done else "; nothing done there"
        text = str(error)
        named = (
            text
            if text.startswith(f"node {node}") or text.startswith(f"{node}/")
            else (f"node {node}: {text}")
        )
        return DeployFailed(named + already, error.details)
