"""The nodes of a deployment: their engines (connected in parallel) and ``--limit``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from colla.config.inventory import Host
from colla.deploy.desired import image_refs, resolve_images
from colla.deploy.plan import Action, Plan
from colla.deploy.prechecks import Check, check_images
from colla.deploy.topology import is_local
from colla.engine import ContainerRequest, DockerEngine, Engine
from colla.engine.endpoint import Endpoint, HostFacts, endpoint_for
from colla.errors import BadInput, CollaError, EngineError
from colla.model.specs import NodeSpecs
from colla.project import Project

T = TypeVar("T")
MAX_PARALLEL = 16


def host_facts(host: Host) -> HostFacts:
    """What the engine layer needs of an inventory host."""
    return HostFacts(
        name=host.name,
        address=host.address,
        local=is_local(host),
        user=host.user,
        port=host.port,
        key_file=host.key_file,
        vars=host.vars,
    )


def endpoints(project: Project, limit: frozenset[str] | None = None) -> dict[str, Endpoint]:
    """Each node's engine endpoint (only the nodes of ``limit`` when given)."""
    where = str(project.inventory_path or "inventory")
    return {
        name: endpoint_for(host_facts(host), where)
        for name, host in sorted(project.inventory.hosts.items())
        if limit is None or name in limit
    }


def parse_limit(
    text: str | None, project: Project, option: str = "--limit"
) -> frozenset[str] | None:
    """``--limit NODE[,NODE]``: the named nodes, each known to the inventory."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise BadInput(f"{option} {text!r}: expected NODE[,NODE...] without empty names")
    known = project.inventory.hosts
    unknown = [n for n in names if n not in known]
    if unknown:
        where = project.inventory_path or "the all-in-one inventory"
        raise BadInput(
            f"{option}: node(s) {', '.join(unknown)} not in {where} "
            f"(nodes: {', '.join(sorted(known))})"
        )
    return frozenset(names)


def in_parallel(
    items: Iterable[str], work: Callable[[str], T], workers: int = MAX_PARALLEL
) -> tuple[dict[str, T], dict[str, CollaError]]:
    """Run ``work`` for every item at once; results and colla errors, by item."""
    names = list(items)
    results: dict[str, T] = {}
    errors: dict[str, CollaError] = {}
    if not names:
        return results, errors
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        futures = {name: pool.submit(work, name) for name in names}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except CollaError as e:
                errors[name] = e
    return results, errors


def raise_for_nodes(what: str, errors: Mapping[str, CollaError]) -> None:
    """One error naming every failed node (the first error's type and details)."""
    if not errors:
        return
    first = next(iter(errors.values()))
    lines = "; ".join(_named(node, e) for node, e in sorted(errors.items()))
    error = type(first)(f"{what} failed on {len(errors)} node(s): {lines}", first.details)
    raise error


def _named(node: str, error: CollaError) -> str:
    text = str(error)
    return text if text.startswith(f"node {node}") else f"node {node}: {text}"


def connect(
    project: Project, local: Engine, limit: frozenset[str] | None = None
) -> dict[str, Engine]:
    """Every node's engine, connected at once; an unreachable node is an error naming it."""
    found = endpoints(project, limit)

    def one(node: str) -> Engine:
        endpoint = found[node]
        return local if endpoint.kind == "local" else DockerEngine.connect_endpoint(endpoint)

    engines, errors = in_parallel(found, one)
    if errors:
        raise EngineError(
            "cannot reach " + "; ".join(_named(node, e) for node, e in sorted(errors.items()))
        )
    return engines


def pin_images(
    engines: Mapping[str, Engine], nodes: Mapping[str, NodeSpecs], pull: bool
) -> tuple[dict[str, NodeSpecs], list[Check]]:
    """Pin each node's specs to its own engine's images, checked all at once.

    With a registry (``pull``), a node lacking an image pulls it first. Checks are named
    ``image <ref>`` for this machine and ``image <ref> on <node>`` for other nodes.
    """
    by_engine: dict[int, list[str]] = {}
    for node in nodes:
        by_engine.setdefault(id(engines[node]), []).append(node)

    def one(first: str) -> tuple[dict[str, str], list[Check]]:
        engine = engines[first]
        sharing = by_engine[id(engine)]
        refs = image_refs({n: nodes[n] for n in sharing})
        if pull:
            for ref in sorted(refs):
                if engine.image(ref) is None:
                    engine.pull(ref)
        ids, checks = check_images(engine, refs)
        if engine.remote:
            checks = [replace(c, name=f"{c.name} on {first}") for c in checks]
        return ids, checks

    results, errors = in_parallel([group[0] for group in by_engine.values()], one)
    raise_for_nodes("checking images", errors)
    pinned: dict[str, NodeSpecs] = {}
    checks: list[Check] = []
    for first, (ids, found) in sorted(results.items()):
        checks.extend(found)
        if all(c.ok for c in found):
            for node in by_engine[id(engines[first])]:
                pinned.update(resolve_images({node: nodes[node]}, ids))
    return pinned, checks


def check_remote_ports(
    plan: Plan, addresses: Mapping[str, str], engines: Mapping[str, Engine]
) -> list[Check]:
    """Ports of containers about to be created on other machines must be free there.

    Asked through each node's engine: one short container on the node's network (from
    an image the node has) tries to connect to each port on the node's address.
    """
    wanted: dict[str, list[tuple[int, str, str]]] = {}  # node → (port, container, image)
    for change in plan.changes:
        if change.action is not Action.CREATE or change.spec is None:
            continue
        if change.node in engines and engines[change.node].remote:
            for port in change.spec.ports:
                wanted.setdefault(change.node, []).append((port, change.name, change.spec.image_id))

    def one(node: str) -> list[Check]:
        address = addresses[node]
        ports = " ".join(str(p) for p, _, _ in wanted[node])
        script = (
            f"for p in {ports}; do (exec 3<>/dev/tcp/{address}/$p) 2>/dev/null && echo $p; "
            "done; true"
        )
        request = ContainerRequest(
            name=f"colla-portcheck-{node}",
            image=wanted[node][0][2],
            command=("bash", "-c", script),
            restart=None,
        )
        code, output = engines[node].run_to_completion(request)
        if code != 0:
            raise EngineError(f"node {node}: port check failed: {output.strip()}")
        busy = {int(w) for w in output.split() if w.isdigit()}
        return [
            Check(
                f"port {port} on {node}",
                port not in busy,
                f"{address}:{port} needed by {name} is "
                + ("already in use" if port in busy else "free"),
            )
            for port, name, _ in wanted[node]
        ]

    results, errors = in_parallel(wanted, one)
    raise_for_nodes("checking ports", errors)
    return [check for node in sorted(results) for check in results[node]]
