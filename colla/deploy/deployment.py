"""One deployment, computed: project, desired specs, observed state, plan, prechecks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from colla.deploy import nodes as nodes_module
from colla.deploy.desired import (
    Topology,
    desired_state,
    enabled_services,
)
from colla.deploy.nodefiles import check_own_directories
from colla.deploy.plan import Observed, Plan, make_plan
from colla.deploy.prechecks import (
    Check,
    check_dependencies,
    check_host_features,
    check_host_resources,
    check_ports,
    check_single_hosts,
    is_local,
    topology,
)
from colla.deploy.services import ServiceCatalog, load_services
from colla.deploy.specs import LABEL_MANAGED, LABEL_NODE, NodeSpecs
from colla.engine import Engine
from colla.errors import CollaError, ExitStatus
from colla.project import Project, load_project


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


def load(config_dir: Path, inventory: Path | None = None) -> tuple[Project, ServiceCatalog]:
    """The validated project and the service catalog."""
    catalog = load_services()
    project = load_project(config_dir, catalog, inventory)
    check_dependencies(project, catalog)
    return project, catalog


def check_local_directories(project: Project, nodes: Mapping[str, NodeSpecs] | None = None) -> None:
    """Refuse this machine's container config directories that are not colla's own
    (a symbolic link, a file), before anything is written; ``nodes`` default to the
    project's desired state."""
    if nodes is None:
        catalog = load_services()
        nodes = desired_state(project, catalog, topology(project))
    local = {h.name for h in project.inventory.hosts.values() if is_local(h)}
    check_own_directories(specs for node, specs in nodes.items() if node in local)


def engines_for(
    project: Project, engine: Engine, limit: frozenset[str] | None = None
) -> dict[str, Engine]:
    """Each node's engine (this machine's nodes share ``engine``), connected in parallel;
    only the nodes of ``limit`` when given. An unreachable node is an error naming it."""
    return nodes_module.connect(project, engine, limit)


def observe(engines: dict[str, Engine], nodes: dict[str, NodeSpecs]) -> dict[str, list[Observed]]:
    """Every colla container of every node, plus any foreign container in the way.

    Each engine is asked once (nodes of this machine share one) and all at once.
    """
    by_engine: dict[int, str] = {}
    for node, engine in engines.items():
        by_engine.setdefault(id(engine), node)

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

    results, errors = nodes_module.in_parallel(by_engine.values(), one)
    nodes_module.raise_for_nodes("observing containers", errors)
    observed: dict[str, list[Observed]] = {n: [] for n in engines}
    for found in results.values():
        for item in found:
            observed.setdefault(item.node, []).append(item)
    for node, specs in nodes.items():
        known = {o.name for o in observed.get(node, [])}
        for spec in specs.containers:
            if spec.name in known:
                continue
            foreign = engines[node].container(spec.name)
            if foreign is not None:
                observed[node].append(Observed(foreign.name, node, foreign.state, foreign.labels))
    return observed


@dataclass(frozen=True)
class Desired:
    """The desired state of a project, pinned to the engine's image IDs."""

    project: Project
    catalog: ServiceCatalog
    topology: Topology
    nodes: dict[str, NodeSpecs]
    checks: tuple[Check, ...]
    engines: dict[str, Engine] = field(default_factory=dict)


def desired(
    config_dir: Path,
    engine: Engine,
    inventory: Path | None = None,
    tags: dict[str, str] | None = None,
    alt: set[str] | None = None,
    limit: frozenset[str] | None = None,
    node_tags: Mapping[tuple[str, str], str] | None = None,
) -> Desired:
    """Load and check the project and pin its specs to images; change nothing.

    ``tags`` gives services an image tag other than the globals' (upgrades, history).
    With ``limit``, only those nodes are reached and only their specs are kept.
    Each node's specs are pinned to the images of that node's engine (pulled from
    ``docker_registry`` when it is set and a node lacks one).
    """
    project, catalog = load(config_dir, inventory)
    # Before any node is reached: the topology itself is refused, and so is a config
    # directory on this machine that colla would write through a symbolic link.
    check_single_hosts(project, catalog)
    topo = topology(project)
    every = desired_state(project, catalog, topo, tags, alt, node_tags)
    check_local_directories(project, every)
    engines = engines_for(project, engine, limit)
    nodes = {n: specs for n, specs in every.items() if n in engines}
    pinned, checks = nodes_module.pin_images(
        engines, nodes, pull=project.globals.docker_registry is not None
    )
    missing = [c for c in checks if not c.ok]
    if missing:
        names = ", ".join(c.name.removeprefix("image ") for c in missing)
        hint = "run `colla build`" + (
            ""
            if all(not e.remote for e in engines.values())
            else ", then `colla build --push` with docker_registry set, or `colla images send`"
        )
        raise PrecheckFailed(f"{len(missing)} image(s) missing: {names} ({hint})")
    return Desired(project, catalog, topo, pinned, tuple(checks), engines)


def prepare(
    config_dir: Path,
    engine: Engine,
    inventory: Path | None = None,
    tags: dict[str, str] | None = None,
    alt: set[str] | None = None,
    limit: frozenset[str] | None = None,
    node_tags: Mapping[tuple[str, str], str] | None = None,
) -> Deployment:
    """Load, check and plan every node (or those of ``limit``); change nothing."""
    wanted = desired(config_dir, engine, inventory, tags, alt, limit, node_tags)
    project, catalog, topo, nodes = wanted.project, wanted.catalog, wanted.topology, wanted.nodes
    engines = wanted.engines
    checks = list(wanted.checks)
    plan = make_plan(nodes, observe(engines, nodes), enabled_services(project, catalog))
    local = {h.name for h in project.inventory.hosts.values() if is_local(h)}
    checks += check_ports(plan, topo.api_address, local)
    checks += nodes_module.check_remote_ports(plan, topo.api_address, engines)
    checks += check_host_resources(engine)
    checks += check_host_features(project, topo)
    return Deployment(project, catalog, topo, nodes, plan, tuple(checks), engines)
