"""Running a password rotation (colla.deploy.password_rotation) on the nodes: admit,
roll, retire, each step again when an interrupted rotation is finished."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from colla.deploy import nodefiles
from colla.deploy.deployment import desired
from colla.deploy.password_rotation import (
    IDENTITY,
    RELOAD,
    Rotation,
    RotationPlan,
    admit_task,
    clear_journal,
    commit,
    retire_command,
    retire_task,
    rotated,
    write_journal,
)
from colla.deploy.tasks import last_lines, resolved, run_task
from colla.errors import CollaError
from colla.history.pins import history_options, pinned_tags
from colla.history.store import RevisionStatus
from colla.model.specs import TaskSpec
from colla.session import Session
from colla.site import Site
from colla.upgrade.operations import reconfigure_plan
from colla.upgrade.swap import record_revision

Say = Callable[[str], None]


def _run(current: Session, task: TaskSpec | None, say: Say) -> None:
    if task is None:
        return
    ready = resolved(current.engines, task)
    engine = current.engines[ready.node]
    nodefiles.write_config(engine, ready)
    # The cloud serves meanwhile: the step gets what the services leave.
    run_task(engine, ready.node, ready, say, what="rotation step", background=True)


def _reload(current: Session, after: Site, service: str, command: str, say: Say) -> None:
    """Give ``service``'s containers their new files in place (a reload)."""
    kept = history_options(current.history, after.project.globals.image_tag)
    wanted = desired(
        after, current.engine, replace(kept, only=frozenset({service})), current.engines
    )
    executor = current.executor()
    for node in wanted.nodes.values():
        for spec in node.containers:
            if spec.service != service:
                continue
            say(f"{spec.node}/{spec.name}: reload")
            executor.write_config(spec)
            executor.reload(spec)
            record_revision(
                current.history,
                spec,
                operation="reconfigure",
                status=RevisionStatus.HEALTHY,
                command=command,
            )


def _bootstrap(current: Session, after: Site, service: str, say: Say) -> None:
    """Run ``service``'s own bootstrap steps again with the new value, as a deploy does
    when it recreates the service's containers (Nova's brings its cell mappings to the
    current form). Not colla's database and registration steps: those would end the
    old credential before the services have moved."""
    own = {item.name for item in after.catalog[service].bootstrap}
    if not own:
        return
    kept = history_options(current.history, after.project.globals.image_tag)
    wanted = desired(
        after, current.engine, replace(kept, only=frozenset({service})), current.engines
    )
    for node in wanted.nodes.values():
        for task in node.tasks.get(service, ()):
            if task.name in own:
                _run(current, task, say)


def _retire_in_place(current: Session, after: Site, rotation: Rotation, say: Say) -> None:
    found = retire_command(after, rotation)
    if found is None:
        return
    node, container, argv = found
    say(f"{node}/{container}: {' '.join(argv)}")
    code, out = current.engines[node].exec(container, argv)
    # Deleting an account that is gone (a retire run before) is done already.
    gone = ("does not exist", "no_such_user", "not found")
    if code != 0 and not any(word in out.lower() for word in gone):
        raise CollaError(f"{node}/{container}: `{' '.join(argv)}` failed: {last_lines(out, 1)}")


def apply_rotation(current: Session, plan: RotationPlan, say: Say, command: str) -> list[str]:
    """Admit, roll, retire (each step again if it ran before); the services changed."""
    site, rotation = current.site, plan.rotation
    write_journal(site.config_dir, rotation)
    after = rotated(site, rotation)
    tag = None
    if rotation.kind == IDENTITY:
        node = site.catalog[rotation.service].first_host(site.project.inventory).name
        tag = pinned_tags(current.history, site.project.globals.image_tag).get(
            (node, rotation.service)
        )
    say(f"admit: the new {rotation.key} works beside the old one")
    _run(current, admit_task(after, rotation, tag), say)
    commit(site, rotation)
    # What takes the new files in place goes first: the message bus admits the new
    # account by such a reload, before any service uses it.
    ordered = sorted(plan.services, key=lambda entry: entry[2] != RELOAD)
    changed = []
    for service, _, how in ordered:
        if how == RELOAD:
            _reload(current, after, service, command, say)
            changed.append(service)
            continue
        swap = reconfigure_plan(
            after, current.engine, current.history, service, command, current.engines
        )
        if swap is None:
            say(f"{service}: runs with the new {rotation.key} already")
            continue
        _bootstrap(current, after, service, say)
        say(f"{service}: swapping {len(swap.new)} container(s)")
        current.swapper().run(swap)
        changed.append(service)
    say(f"retire: the old {rotation.key} stops working")
    _run(current, retire_task(after, rotation, tag), say)
    _retire_in_place(current, after, rotation, say)
    clear_journal(site.config_dir)
    return changed
