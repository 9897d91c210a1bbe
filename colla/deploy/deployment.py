"""One deployment, computed: project, desired specs, observed state, plan, prechecks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from colla.deploy.desired import (
    Topology,
    desired_state,
    enabled_services,
    image_refs,
    resolve_images,
)
from colla.deploy.plan import Observed, Plan, make_plan
from colla.deploy.prechecks import (
    Check,
    check_dependencies,
    check_host_features,
    check_host_resources,
    check_images,
    check_ports,
    is_local,
    topology,
)
from colla.deploy.services import ServiceCatalog, load_services
from colla.deploy.specs import LABEL_MANAGED, LABEL_NODE, NodeSpecs
from colla.engine import Engine
from colla.errors import BadInput, CollaError, ExitStatus
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


def engines_for(project: Project, engine: Engine) -> dict[str, Engine]:
    """Each node's engine. Only this machine's nodes can be reached for now."""
    remote = [h.name for h in project.inventory.hosts.values() if not is_local(h)]
    if remote:
        raise BadInput(
            f"{project.inventory_path}: host(s) {', '.join(remote)} are not this machine; "
            "deploying to other machines is not supported yet"
        )
    return {name: engine for name in project.inventory.hosts}


def observe(engines: dict[str, Engine], nodes: dict[str, NodeSpecs]) -> dict[str, list[Observed]]:
    """Every colla container of every node, plus any foreign container in the way."""
    observed: dict[str, list[Observed]] = {n: [] for n in engines}
    seen_engines: set[int] = set()
    for node, engine in engines.items():
        if id(engine) in seen_engines:
            continue
        seen_engines.add(id(engine))
        for info in engine.containers(f"{LABEL_MANAGED}=true"):
            owner = info.labels.get(LABEL_NODE, node)
            observed.setdefault(owner, []).append(
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


def desired(
    config_dir: Path,
    engine: Engine,
    inventory: Path | None = None,
    tags: dict[str, str] | None = None,
    alt: set[str] | None = None,
) -> Desired:
    """Load and check the project and pin its specs to images; change nothing.

    ``tags`` gives services an image tag other than the globals' (upgrades, history).
    """
    project, catalog = load(config_dir, inventory)
    engines_for(project, engine)
    topo = topology(project)
    nodes = desired_state(project, catalog, topo, tags, alt)
    ids, checks = check_images(engine, image_refs(nodes))
    missing = [c for c in checks if not c.ok]
    if missing:
        names = ", ".join(c.name.removeprefix("image ") for c in missing)
        raise PrecheckFailed(f"{len(missing)} image(s) missing: {names} (run `colla build`)")
    return Desired(project, catalog, topo, resolve_images(nodes, ids), tuple(checks))


def prepare(
    config_dir: Path,
    engine: Engine,
    inventory: Path | None = None,
    tags: dict[str, str] | None = None,
    alt: set[str] | None = None,
) -> Deployment:
    """Load, check and plan; change nothing."""
    wanted = desired(config_dir, engine, inventory, tags, alt)
    project, catalog, topo, nodes = wanted.project, wanted.catalog, wanted.topology, wanted.nodes
    engines = engines_for(project, engine)
    checks = list(wanted.checks)
    plan = make_plan(nodes, observe(engines, nodes), enabled_services(project, catalog))
    local = {h.name for h in project.inventory.hosts.values() if is_local(h)}
    checks += check_ports(plan, topo.api_address, local)
    checks += check_host_resources(engine)
    checks += check_host_features(project, topo)
    return Deployment(project, catalog, topo, nodes, plan, tuple(checks), engines)
