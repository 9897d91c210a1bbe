"""``colla rotate-keys``: each enabled service's key rotation steps (catalog data,
``rotate_keys``), run on its first host in the image it runs now."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from colla.deploy import nodefiles
from colla.deploy.tasks import resolved, run_task
from colla.deploy.taskspecs import catalog_task
from colla.deploy.templates import ServiceRenderer
from colla.engine import Engine
from colla.errors import BadInput
from colla.history.pins import pinned_tags
from colla.history.store import History
from colla.model.specs import TaskSpec
from colla.site import Site

Say = Callable[[str], None]


def rotating_services(site: Site, service: str | None = None) -> list[str]:
    """The enabled services with keys to rotate (or ``service``, checked), in order."""
    having = [
        name
        for level in site.catalog.levels(set(site.enabled))
        for name in sorted(level)
        if site.catalog[name].rotate_keys
    ]
    if service is None:
        return having
    if service not in having:
        raise BadInput(
            f"rotate-keys: {service!r} has no keys colla rotates"
            f" (those that do: {', '.join(having) or 'none enabled'})"
        )
    return [service]


def rotation_tasks(site: Site, history: History, service: str) -> list[TaskSpec]:
    """The service's rotation steps, rendered for its first host at the tag it runs
    (an upgrade's tag, which history pins, or the globals')."""
    definition = site.catalog[service]
    project = site.project
    node = definition.first_host(project.inventory).name
    tag = pinned_tags(history, project.globals.image_tag).get((node, service))
    r = ServiceRenderer(project, site.catalog, site.topology, definition, tag)
    return [catalog_task(r, project, node, item) for item in definition.rotate_keys]


def rotate_keys(
    site: Site,
    engines: Mapping[str, Engine],
    history: History,
    say: Say,
    service: str | None = None,
) -> list[str]:
    """Run every rotation step (of ``service``); the names of the steps run."""
    done = []
    for name in rotating_services(site, service):
        for task in rotation_tasks(site, history, name):
            ready = resolved(engines, task)
            engine = engines[ready.node]
            nodefiles.write_config(engine, ready)
            # The cloud serves meanwhile: the step gets what the services leave.
            run_task(engine, ready.node, ready, say, what="key rotation step", background=True)
            done.append(ready.name)
    return done
