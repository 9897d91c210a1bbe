"""What a swap shows before it runs, and when there is nothing to swap, read from fake
engines."""

from __future__ import annotations

from colla.model.specs import ContainerSpec, TaskSpec
from colla.upgrade.preview import already_applied, preview
from colla.upgrade.swap import SwapPlan
from tests.fakes import FakeEngine
from tests.unit.test_plan import spec


def _node(*running: ContainerSpec) -> dict[str, FakeEngine]:
    """The node of ``running``, whose engine runs those colla containers."""
    engine = FakeEngine(running[0].node)
    for s in running:
        engine.add(s.name, labels=s.labels(), image_id=s.image_id)
    return {engine.node: engine}


OLD = spec({"name": "keystone", "service": "keystone", "image_id": "sha256:aaaaaaaaaaaaaaaa"})
NEW = spec({"name": "keystone", "service": "keystone", "image_id": "sha256:bbbbbbbbbbbbbbbb"})
MIGRATE = TaskSpec("keystone-migrate", "keystone", OLD.node, "img", "sha256:1", "/c", ())


def _plan(*new: ContainerSpec) -> SwapPlan:
    return SwapPlan("upgrade", "keystone", new, backup=MIGRATE, restore=None, migrate=(MIGRATE,))


def test_a_preview_shows_what_runs_what_replaces_it_and_the_steps() -> None:
    other = spec({"name": "keystone_ssh", "service": "keystone", "image_id": "sha256:cc"})
    engines = _node(OLD)
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
    engines = _node(OLD)
    assert already_applied(_plan(OLD), engines)
    assert not already_applied(_plan(NEW), engines)
