"""One deployment, computed: project, desired specs, observed state, plan, prechecks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from colla.deploy import nodes as nodes_module
from colla.deploy.desired import desired_state
from colla.deploy.nodefiles import check_own_directories, config_differs
from colla.deploy.plan import Observed, Plan, make_plan
from colla.deploy.prechecks import (
    Check,
    check_host_features,
    check_host_resources,
    check_ports,
    check_single_hosts,
)
from colla.deploy.reloads import as_reloaded
from colla.deploy.topology import is_local
from colla.engine import Engine
from colla.errors import CollaError, ExitStatus
from colla.model.services import ServiceCatalog
from colla.model.specs import LABEL_MANAGED, LABEL_NODE, NodeSpecs
from colla.model.topology import Topology
from colla.project import Project
from colla.site import Site


class PrecheckFailed(CollaError):
    """A precheck failed; nothing was changed."""

    exit_status = ExitStatus.PRECHECK_FAILED


@dataclass(frozen=True)
class Deployment:
    """Everything ``plan`` prints and ``deploy`` applies."""

    project: Project
    catalog: ServiceCatalog
    topology: Topology
    nodes: dict[str, NodeSpecs]
    plan: Plan
    checks: tuple[Check, ...]
    engines: dict[str, Engine]

    @property
    def failed_checks(self) -> list[Check]:
        """The prechecks that failed."""
        return [c for c in self.checks if not c.ok]


def check_local_directories(site: Site, nodes: Mapping[str, NodeSpecs] | None = None) -> None:
    """Refuse this machine's container config directories that are not colla's own
    (a symbolic link, a file), before anything is written; ``nodes`` default to the
    site's desired state."""
    project = site.project
    if nodes is None:
        nodes = site.rendered
    local = {h.name for h in project.inventory.hosts.values() if is_local(h)}
    check_own_directories(specs for node, specs in nodes.items() if node in local)


def engines_for(
    project: Project, engine: Engine, limit: frozenset[str] | None = None
) -> dict[str, Engine]:
    """Each node's engine (this machine's nodes share ``engine``), connected in parallel;
    only the nodes of ``limit`` when given. An unreachable node is an error naming it."""
    return nodes_module.connect(project, engine, limit)


def observe(engines: dict[str, Engine], nodes: dict[str, NodeSpecs]) -> dict[str, list[Observed]]:
    """Every colla container of every node, plus any foreign container in the way; a
    container reloaded in place is seen with the spec it was reloaded to.

    Each engine is asked once (nodes of this machine share one) and all at once.
    """

    def one(node: str) -> list[Observed]:
        found = []
        for info in engines[node].containers(f"{LABEL_MANAGED}=true"):
            owner = info.labels.get(LABEL_NODE, node)
            found.append(
                Observed(
                    name=info.name,
                    node=owner,
                    state=info.state,
                    labels=info.labels,
                    health=info.health,
                    image_id=info.image_id,
                    started_at=info.started_at,
                )
            )
        return found

    results, errors = nodes_module.in_parallel(_one_node_per_engine(engines), one)
    nodes_module.raise_for_nodes("observing containers", errors)
    observed: dict[str, list[Observed]] = {n: [] for n in engines}
    for found in results.values():
        for item in found:
            observed.setdefault(item.node, []).append(item)
    for node, specs in nodes.items():
        wanted = {s.name: s for s in specs.containers}
        observed[node] = [
            as_reloaded(engines[node], o, wanted[o.name]) if o.name in wanted else o
            for o in observed.get(node, [])
        ]
        known = {o.name for o in observed[node]}
        for spec in specs.containers:
            if spec.name in known:
                continue
            foreign = engines[node].container(spec.name)
            if foreign is not None:
                observed[node].append(Observed(foreign.name, node, foreign.state, foreign.labels))
    return observed


def _one_node_per_engine(engines: Mapping[str, Engine]) -> list[str]:
    """A node for each distinct engine: nodes of this machine share one."""
    by_engine: dict[int, str] = {}
    for node, engine in engines.items():
        by_engine.setdefault(id(engine), node)
    return list(by_engine.values())


def observe_volumes(engines: Mapping[str, Engine]) -> dict[str, frozenset[str]]:
    """Each node's existing volumes, each engine asked once and all at once."""
    results, errors = nodes_module.in_parallel(
        _one_node_per_engine(engines), lambda n: frozenset(engines[n].all_volumes())
    )
    nodes_module.raise_for_nodes("listing volumes", errors)
    by_id = {id(engines[n]): found for n, found in results.items()}
    return {node: by_id[id(engine)] for node, engine in engines.items()}


def drifted_here(
    engines: Mapping[str, Engine], nodes: Mapping[str, NodeSpecs]
) -> dict[str, frozenset[str]]:
    """The config directories of this machine's nodes whose files differ from what colla
    renders (missing ones included): the plan rewrites them even when no container
    changes. Another machine's are not read (that costs a container each); colla writes
    them whenever it touches their container."""
    drifted: dict[str, frozenset[str]] = {}
    for node, specs in nodes.items():
        if node not in engines or engines[node].remote:
            continue
        drifted[node] = frozenset(
            s.config_dir for s in specs.with_config() if config_differs(Path(s.config_dir), s.files)
        )
    return drifted


@dataclass(frozen=True)
class DesiredOptions:
    """What moves a desired state off the globals: per-service tags (an upgrade), the
    services on the alternate API slot, per-(node, service) tags that history pins, and
    the nodes of --limit (``None``: every node), and the services to render (``None``:
    every enabled one; an upgrade or a rollback renders its own only)."""

    tags: Mapping[str, str] = field(default_factory=dict)
    alt: frozenset[str] = frozenset()
    limit: frozenset[str] | None = None
    node_tags: Mapping[tuple[str, str], str] = field(default_factory=dict)
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class Desired:
    """The desired state of a site, pinned to the engine's image IDs."""

    site: Site
    nodes: dict[str, NodeSpecs]
    checks: tuple[Check, ...]
    engines: dict[str, Engine] = field(default_factory=dict)

    @property
    def project(self) -> Project:
        """The site's project."""
        return self.site.project

    @property
    def catalog(self) -> ServiceCatalog:
        """The site's service catalog."""
        return self.site.catalog

    @property
    def topology(self) -> Topology:
        """The site's topology."""
        return self.site.topology


def render(site: Site, options: DesiredOptions) -> dict[str, NodeSpecs]:
    """Every node's specs for ``options``, not yet pinned to images; no node reached.

    Before any node is reached, the topology itself is refused, and so is a config
    directory on this machine that colla would write through a symbolic link.
    """
    project, catalog = site.project, site.catalog
    check_single_hosts(project, catalog)
    moved = options.tags or options.alt or options.node_tags or options.only is not None
    every = (
        desired_state(
            project,
            catalog,
            site.topology,
            options.tags,
            set(options.alt),
            options.node_tags,
            options.only,
        )
        if moved
        else site.rendered
    )
    check_local_directories(site, every)
    return every


def desired(
    site: Site,
    engine: Engine,
    options: DesiredOptions,
    engines: Mapping[str, Engine] | None = None,
    rendered: dict[str, NodeSpecs] | None = None,
) -> Desired:
    """Check the site and pin its specs to images; change nothing.

    With ``options.limit``, only those nodes are reached and only their specs are kept.
    Each node's specs are pinned to the images of that node's engine (pulled from
    ``docker_registry`` when it is set and a node lacks one). ``engines``, when given,
    are the nodes' engines already connected (a session's), so they are not reached again;
    ``rendered``, when given, is what :func:`render` made of ``options`` already.
    """
    project = site.project
    every = render(site, options) if rendered is None else rendered
    reached = dict(engines) if engines is not None else engines_for(project, engine, options.limit)
    nodes = {n: specs for n, specs in every.items() if n in reached}
    pinned, checks = nodes_module.pin_images(
        reached, nodes, pull=project.globals.docker_registry is not None
    )
    missing = [c for c in checks if not c.ok]
    if missing:
        names = ", ".join(c.name.removeprefix("image ") for c in missing)
        hint = "run `colla build`" + (
            ""
            if all(not e.remote for e in reached.values())
            else ", then `colla build --push` with docker_registry set, or `colla images send`"
        )
        raise PrecheckFailed(f"{len(missing)} image(s) missing: {names} ({hint})")
    return Desired(site, pinned, tuple(checks), reached)


def prepare(
    site: Site,
    engine: Engine,
    options: DesiredOptions,
    engines: Mapping[str, Engine] | None = None,
) -> Deployment:
    """Check and plan every node (or those of ``options.limit``); change nothing."""
    wanted = desired(site, engine, options, engines)
    project, catalog, topo, nodes = site.project, site.catalog, site.topology, wanted.nodes
    checks = list(wanted.checks)
    plan = make_plan(
        nodes,
        observe(wanted.engines, nodes),
        set(site.enabled),
        observe_volumes(wanted.engines),
        drifted_here(wanted.engines, nodes),
    )
    local = {h.name for h in project.inventory.hosts.values() if is_local(h)}
    checks += check_ports(plan, topo.api_address, local)
    checks += nodes_module.check_remote_ports(plan, topo.api_address, wanted.engines)
    checks += check_host_resources(engine)
    checks += check_host_features(project, catalog, topo)
    return Deployment(project, catalog, topo, nodes, plan, tuple(checks), wanted.engines)


def desired_here(site: Site, engine: Engine, options: DesiredOptions) -> Desired:
    """The desired state of every node pinned to this machine's images, no node reached:
    for files written for other tools (compose, k8s). Image IDs are content addresses,
    and nodes get their images from here (``images send``) or from the registry colla
    pushed to, so this machine's IDs are the nodes' IDs."""
    here = {name: engine for name in site.project.inventory.hosts}
    return desired(site, engine, options, here)
