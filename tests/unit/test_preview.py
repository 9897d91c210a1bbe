"""What a swap shows before it runs, and when there is nothing to swap, read from fake
engines."""

from __future__ import annotations

from typing import cast

from colla.deploy.specs import ContainerSpec, TaskSpec
from colla.engine import ContainerInfo, Engine
from colla.upgrade.preview import already_applied, preview
from colla.upgrade.swap import SwapPlan
from tests.unit.test_plan import spec


def _info(made: ContainerSpec) -> ContainerInfo:
    labels = made.labels()
    return ContainerInfo(made.name, made.name, "running", "healthy", labels, made.image_id, "", 0)


class Node:
    """An engine holding some running colla containers."""

    def __init__(self, *running: ContainerSpec) -> None:
        self.running = {
            s.name: ContainerInfo(
                s.name, s.name, "running", "healthy", s.labels(), s.image_id, "", 0
            )
            for s in running
        }

    def container(self, name: str) -> ContainerInfo | None:
        return self.running.get(name)

    def containers(self, label: str) -> list[ContainerInfo]:
        assert label == "colla.managed=true"
        return list(self.running.values())


OLD = spec({"name": "keystone", "service": "keystone", "image_id": "sha256:aaaaaaaaaaaaaaaa"})
NEW = spec({"name": "keystone", "service": "keystone", "image_id": "sha256:bbbbbbbbbbbbbbbb"})
MIGRATE = TaskSpec("keystone-migrate", "keystone", OLD.node, "img", "sha256:1", "/c", ())


def _plan(*new: ContainerSpec) -> SwapPlan:
    return SwapPlan("upgrade", "keystone", new, backup=MIGRATE, restore=None, migrate=(MIGRATE,))


def test_a_preview_shows_what_runs_what_replaces_it_and_the_steps() -> None:
    other = spec({"name": "keystone_ssh", "service": "keystone", "image_id": "sha256:cc"})
    engines = cast(dict[str, Engine], {OLD.node: Node(OLD)})
    shown = preview(_plan(other, NEW), engines)
    assert [(r.container, r.running) for r in shown.rows] == [
        ("keystone", "aaaaaaaaaaaa"),
        ("keystone_ssh", "-"),
    ]
    assert shown.rows[0].new == f"{NEW.image} (bbbbbbbbbbbb)"
    assert shown.rows[0].reasons[0].startswith("image changed")
    assert shown.rows[1].reasons == ("new",)
    assert shown.steps == ("backup", "keystone-migrate")


def test_a_swap_to_what_runs_has_nothing_to_do() -> None:
    engines = cast(dict[str, Engine], {OLD.node: Node(OLD)})
    assert already_applied(_plan(OLD), engines)
    assert not already_applied(_plan(NEW), engines)
