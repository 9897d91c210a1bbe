"""The planner: desired specs x observed containers → changes, each with its reasons.

Pure: it never talks to an engine, so it is tested with data cases.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from colla.deploy.steps import Step, StepKind, Touched, config_steps, task_steps, volume_steps
from colla.errors import BadInput
from colla.model.specs import (
    LABEL_HASH,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NODE,
    LABEL_SERVICE,
    LABEL_SPEC,
    ContainerSpec,
    NodeSpecs,
)


class Action(enum.StrEnum):
    """What the applier does with one container."""

    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    # Only config files changed, and the container takes them in place (catalog
    # ``reload``): installed again and signalled, never stopped.
    RELOAD = "reload"
    REMOVE = "remove"
    NOOP = "no-op"


@dataclass(frozen=True)
class Observed:
    """A container as the engine reports it."""

    name: str
    node: str
    state: str
    labels: Mapping[str, str] = field(default_factory=dict)
    health: str | None = None
    image_id: str = ""
    started_at: str = ""

    @property
    def managed(self) -> bool:
        """Whether colla created it."""
        return self.labels.get(LABEL_MANAGED) == "true"

    @property
    def service(self) -> str:
        """colla's service name for it."""
        return self.labels.get(LABEL_SERVICE, "")

    def spec(self) -> dict[str, Any]:
        """The public spec it was created from (empty when the label is unreadable)."""
        try:
            data = json.loads(self.labels.get(LABEL_SPEC, "{}"))
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Change:
    """One container's change, with why."""

    action: Action
    node: str
    name: str
    service: str
    reasons: tuple[str, ...]
    spec: ContainerSpec | None = None


@dataclass(frozen=True)
class Plan:
    """Every change on every node, and every step that goes with them (volumes, config
    directories, bootstrap tasks); a value to print, test and then apply."""

    changes: tuple[Change, ...]
    steps: tuple[Step, ...] = ()

    @property
    def actionable(self) -> list[Change]:
        """The changes that do something."""
        return [c for c in self.changes if c.action is not Action.NOOP]

    @property
    def is_noop(self) -> bool:
        """True when applying would change nothing."""
        return not self.actionable and not self.steps

    def steps_of(self, kind: StepKind, service: str | None = None) -> list[Step]:
        """The steps of one kind (of one service), in plan order."""
        return [s for s in self.steps if s.kind is kind and service in (None, s.service)]

    def by_node(self) -> dict[str, list[Change]]:
        """The changes of each node, nodes in name order, each node's in plan order."""
        grouped: dict[str, list[Change]] = {}
        for change in sorted(self.changes, key=lambda c: c.node):
            grouped.setdefault(change.node, []).append(change)
        return grouped

    def services_changed(self) -> set[str]:
        """Services with a container to create or recreate: their bootstrap runs."""
        return _services_created(self.changes)


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _dict_diff(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return _key_diff(
        old, new, f"{label} {{}} added", f"{label} {{}} removed", f"{label} {{}} changed"
    )


def _key_diff(
    old: Mapping[str, Any], new: Mapping[str, Any], added: str, removed: str, changed: str
) -> list[str]:
    """A reason per key added, removed or changed; each word has a ``{}`` for the key."""
    reasons = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            reasons.append(added.format(key))
        elif key not in new:
            reasons.append(removed.format(key))
        elif old[key] != new[key]:
            reasons.append(changed.format(key))
    return reasons


def diff_reasons(spec: ContainerSpec, observed: Observed) -> list[str]:
    """Why a running container differs from its desired spec."""
    old = observed.spec()
    new = spec.public()
    reasons: list[str] = []
    if old.get("image_id") != new["image_id"]:
        reasons.append(
            f"image changed: {_short(str(old.get('image_id', '')))} → "
            f"{_short(spec.image_id)} ({spec.image})"
        )
    # First: a password is the cause of the config file changes listed after it.
    reasons += _dict_diff("password", old.get("secrets") or {}, new.get("secrets") or {})
    reasons += _dict_diff("config file", old.get("files") or {}, new["files"])
    reasons += _override_reasons(old.get("overrides") or {}, new.get("overrides") or {})
    reasons += _dict_diff("volume", old.get("volumes") or {}, new["volumes"])
    reasons += _dict_diff("environment", old.get("environment") or {}, new["environment"])
    for key, what in (
        ("healthcheck", "healthcheck changed"),
        ("privileges", "privileges changed"),
        ("restart", "restart policy changed"),
        ("config_dir", "config directory changed"),
    ):
        if old.get(key) != new[key]:
            reasons.append(what)
    if not reasons:
        reasons.append("spec changed")
    return reasons


# What a reload can change in place: the files (and the passwords and overrides that
# are only their causes). Anything else is fixed when the engine creates the container.
_RELOADABLE = frozenset({"files", "secrets", "overrides"})


def reloadable(spec: ContainerSpec, observed: Observed) -> bool:
    """Whether a running container takes ``spec`` by a reload: it declares one, and
    only its config files differ from the spec it runs (only those it names, if any)."""
    if spec.reload is None or observed.state != "running":
        return False
    old = observed.spec()
    new = spec.public()
    if not old or any(old.get(k) != new.get(k) for k in (set(old) | set(new)) - _RELOADABLE):
        return False
    if not spec.reload.files:
        return True
    before, after = old.get("files") or {}, new["files"]
    changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    return changed <= set(spec.reload.files)


def _override_reasons(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Which of the operator's override files changed the container's config."""
    return _key_diff(
        old, new, "config override added: {}", "config override removed: {}", "config changed: {}"
    )


def _removal_reason(observed: Observed, enabled: set[str], nodes: set[str]) -> str:
    if observed.node not in nodes:
        return f"node {observed.node} is not in the inventory"
    if observed.service and observed.service not in enabled:
        return f"service {observed.service} is not enabled"
    return "no longer part of the deployment"


def make_plan(
    desired: Mapping[str, NodeSpecs],
    observed: Mapping[str, Iterable[Observed]],
    enabled: set[str],
    volumes: Mapping[str, frozenset[str]] | None = None,
    drifted: Mapping[str, frozenset[str]] | None = None,
) -> Plan:
    """Compare what should run with what runs, node by node, and add the steps that go
    with the changes. ``volumes`` are each node's existing volumes (none when not given);
    ``drifted`` each node's config directories whose files differ from the specs'."""
    changes: list[Change] = []
    nodes = set(desired)
    for node in sorted(set(desired) | set(observed)):
        seen = {o.name: o for o in observed.get(node, ())}
        wanted = desired[node].containers if node in desired else ()
        for spec in wanted:
            current = seen.pop(spec.name, None)
            if current is None:
                changes.append(Change(Action.CREATE, node, spec.name, spec.service, ("new",), spec))
                continue
            if not current.managed:
                raise BadInput(
                    f"node {node}: container '{spec.name}' exists and is not managed by colla; "
                    "remove or rename it"
                )
            if current.labels.get(LABEL_HASH) != spec.spec_hash:
                reasons = tuple(diff_reasons(spec, current))
                action = Action.RELOAD if reloadable(spec, current) else Action.RECREATE
                changes.append(Change(action, node, spec.name, spec.service, reasons, spec))
            elif current.state != "running":
                changes.append(
                    Change(
                        Action.START,
                        node,
                        spec.name,
                        spec.service,
                        (f"not running ({current.state})",),
                        spec,
                    )
                )
            else:
                changes.append(
                    Change(Action.NOOP, node, spec.name, spec.service, ("up to date",), spec)
                )
        for name, current in sorted(seen.items()):
            if current.managed:
                reason = _removal_reason(current, enabled, nodes)
                changes.append(Change(Action.REMOVE, node, name, current.service, (reason,)))
    return Plan(tuple(changes), _steps(desired, changes, volumes or {}, drifted or {}))


def _steps(
    desired: Mapping[str, NodeSpecs],
    changes: list[Change],
    volumes: Mapping[str, frozenset[str]],
    drifted: Mapping[str, frozenset[str]],
) -> tuple[Step, ...]:
    starting = (Action.CREATE, Action.RECREATE, Action.START)
    containers: dict[str, set[str]] = {}
    reloads: dict[str, set[str]] = {}
    for change in changes:
        if change.action in starting:
            containers.setdefault(change.node, set()).add(change.name)
        elif change.action is Action.RELOAD:
            reloads.setdefault(change.node, set()).add(change.name)
    touched = Touched(
        {n: frozenset(names) for n, names in containers.items()},
        frozenset(_services_created(changes)),
        {n: frozenset(names) for n, names in reloads.items()},
    )
    return (
        *volume_steps(desired, volumes),
        *config_steps(desired, touched, drifted),
        *task_steps(desired, touched.bootstrap),
    )


def _services_created(changes: Iterable[Change]) -> set[str]:
    return {c.service for c in changes if c.action in (Action.CREATE, Action.RECREATE)}


def observed_from_labels(
    name: str, state: str, labels: Mapping[str, str], **extra: Any
) -> Observed:
    """An Observed whose node comes from its label (the engine module's helper)."""
    return Observed(
        name=labels.get(LABEL_NAME, name),
        node=labels.get(LABEL_NODE, ""),
        state=state,
        labels=labels,
        **extra,
    )
