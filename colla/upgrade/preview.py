"""What a swap will change, read from the nodes' engines before it runs: what the CLI
shows, and whether there is anything to do at all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from colla.deploy.plan import Observed, diff_reasons
from colla.engine import Engine
from colla.model.specs import LABEL_HASH, LABEL_MANAGED
from colla.upgrade.swap import SwapPlan


@dataclass(frozen=True)
class SwapRow:
    """One container of a swap: what runs now (short image ID, "-" for none), what
    replaces it, and why."""

    node: str
    container: str
    running: str
    new: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SwapPreview:
    """A swap's containers, sorted by node and name, and the steps around the swap."""

    kind: str
    service: str
    rows: tuple[SwapRow, ...]
    steps: tuple[str, ...]


def preview(plan: SwapPlan, engines: Mapping[str, Engine]) -> SwapPreview:
    """What ``plan`` changes on each node, as its engine shows the containers now."""
    rows = []
    for spec in sorted(plan.new, key=lambda s: (s.node, s.name)):
        current = engines[spec.node].container(spec.name)
        observed = None
        if current is not None:
            observed = Observed(current.name, spec.node, current.state, current.labels)
        reasons = diff_reasons(spec, observed) if observed else ["new"]
        rows.append(
            SwapRow(
                node=spec.node,
                container=spec.name,
                running=current.image_id[7:19] if current else "-",
                new=f"{spec.image} ({spec.image_id[7:19]})",
                reasons=tuple(reasons),
            )
        )
    steps = ["backup"] if plan.backup else []
    steps += [t.name for t in plan.migrate]
    if plan.restore_before_start:
        steps.append(f"restore {plan.restore_before_start.name}")
    return SwapPreview(plan.kind, plan.service, tuple(rows), tuple(steps))


def running_hashes(engines: Mapping[str, Engine]) -> dict[tuple[str, str], str | None]:
    """The spec hash each colla container of the nodes carries, by (node, name)."""
    return {
        (node, c.name): c.labels.get(LABEL_HASH)
        for node, engine in engines.items()
        for c in engine.containers(f"{LABEL_MANAGED}=true")
    }


def already_applied(plan: SwapPlan, engines: Mapping[str, Engine]) -> bool:
    """Whether every container of ``plan`` runs its new spec already (nothing to swap)."""
    running = running_hashes(engines)
    return all(running.get((s.node, s.name)) == s.spec_hash for s in plan.new)
