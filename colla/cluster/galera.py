"""Which Galera node a stopped cluster may start from: the recovery decision, as a value.

When no node of a Galera cluster runs, one must be bootstrapped (start a new primary
component) and the others join it, receiving its data. Bootstrapping from a node that
is behind silently throws away the writes the others committed after it left, which is
the failure operators of such clusters dread most. So the decision here reads every
node's saved position, picks the most advanced one, and stops, saying what it found,
whenever the positions do not prove which node that is. Nothing here touches an engine:
the caller reads each node's state (its ``grastate.dat``, and ``--wsrep-recover`` where
that holds no position), passes it in, prints the decision, and carries it out.

Galera's own records, as this module reads them:
- ``grastate.dat``: the cluster's history ``uuid``, and ``seqno``, the last transaction
  the node committed; -1 while it runs or after a crash, when only ``mysqld
  --wsrep-recover`` can read the position from the storage engine.
- ``safe_to_bootstrap: 1``: set on the one node that left the cluster last, gracefully.
- the all-zero uuid: a node that never joined a cluster, with no history to lose.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

NO_HISTORY = "00000000-0000-0000-0000-000000000000"
UNKNOWN_SEQNO = -1
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# mysqld --wsrep-recover logs e.g. "WSREP: Recovered position: <uuid>:<seqno>".
_RECOVERED = re.compile(r"WSREP: Recovered position:\s*([0-9a-f-]{36}):(-?\d+)")


class Action(enum.Enum):
    """What to do with the cluster."""

    JOIN = "join"  # a node runs in a primary component: the others join it
    NEW = "new"  # no node has any history: start a new cluster on the first
    BOOTSTRAP = "bootstrap"  # start from the most advanced node; the others join it
    STOP = "stop"  # the positions do not prove which node is ahead: ask the operator


@dataclass(frozen=True)
class Position:
    """A node's place in a cluster's history."""

    uuid: str
    seqno: int

    @property
    def known(self) -> bool:
        return self.seqno != UNKNOWN_SEQNO

    def __str__(self) -> str:
        return f"{self.uuid}:{self.seqno}"


@dataclass(frozen=True)
class NodeState:
    """What colla could read of one node. ``saved`` is grastate.dat's position (None when
    the file or the node could not be read: ``problem`` says why); ``recovered`` is
    ``--wsrep-recover``'s, read when ``saved`` holds no seqno."""

    node: str
    saved: Position | None = None
    safe_to_bootstrap: bool = False
    recovered: Position | None = None
    primary: bool = False  # mysqld runs there, in a primary component
    problem: str = ""

    @property
    def position(self) -> Position | None:
        """The best-known position: the saved one, or the recovered one after a crash."""
        if self.saved is not None and self.saved.known:
            return self.saved
        if self.recovered is not None and self.recovered.known:
            return self.recovered
        return None

    @property
    def fresh(self) -> bool:
        """A node that never joined a cluster: nothing on it can be lost."""
        return self.saved is not None and self.saved.uuid == NO_HISTORY

    def describe(self) -> str:
        if self.primary:
            return f"{self.node}: running, in a primary component"
        if self.problem:
            return f"{self.node}: position unknown ({self.problem})"
        if self.fresh:
            return f"{self.node}: no history (never joined a cluster)"
        position = self.position
        if position is None:
            return f"{self.node}: position unknown (grastate.dat has seqno -1, not recovered)"
        how = "saved" if position is self.saved else "recovered after a crash"
        flag = ", safe_to_bootstrap: 1" if self.safe_to_bootstrap else ""
        return f"{self.node}: at {position} ({how}{flag})"


@dataclass(frozen=True)
class Decision:
    """The recovery decision: the action, the node it concerns, why, and (for STOP) what
    the operator can do. ``found`` describes every node, in the order given."""

    action: Action
    node: str | None
    reason: str
    found: tuple[str, ...]
    choices: tuple[str, ...] = ()


def parse_grastate(text: str) -> tuple[Position, bool]:
    """grastate.dat's position and safe_to_bootstrap flag; ValueError when it is not one."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
    uuid = fields.get("uuid", "").lower()
    if not _UUID.match(uuid):
        raise ValueError(f"grastate.dat has no cluster uuid (uuid: {uuid or 'missing'!r})")
    try:
        seqno = int(fields.get("seqno", ""))
    except ValueError:
        raise ValueError(f"grastate.dat has no seqno (seqno: {fields.get('seqno')!r})") from None
    if seqno < UNKNOWN_SEQNO:
        raise ValueError(f"grastate.dat has a negative seqno {seqno}")
    safe = fields.get("safe_to_bootstrap", "0") == "1"
    return Position(uuid, seqno), safe


def parse_recovered(log: str) -> Position | None:
    """The position ``mysqld --wsrep-recover`` logged, or None when it logged none."""
    found = _RECOVERED.findall(log)
    if not found:
        return None
    uuid, seqno = found[-1]
    return Position(uuid.lower(), int(seqno))


def decide(states: Sequence[NodeState], forced: str | None = None) -> Decision:
    """Which node the cluster starts from, given every member's state in inventory order.

    ``forced`` is the operator's choice of a node after a STOP: it is honoured only where
    no readable position shows another node ahead of it, so it can stand in for a node
    that cannot be read, and never for data that is known to be newer elsewhere.
    """
    found = tuple(s.describe() for s in states)
    names = [s.node for s in states]
    if forced is not None and forced not in names:
        return _stop(
            f"{forced} is not a database node", found, (f"choose one of {', '.join(names)}",)
        )
    running = [s.node for s in states if s.primary]
    if running:
        return Decision(Action.JOIN, running[0], f"{running[0]} runs the cluster", found)
    with_history = [s for s in states if not s.fresh]
    if not with_history:
        first = forced or names[0]
        return Decision(Action.NEW, first, "no node has any history: a new cluster", found)
    histories = {s.position.uuid for s in with_history if s.position is not None}
    if len(histories) > 1:
        return _stop(
            "the nodes hold the histories of different clusters: " + ", ".join(sorted(histories)),
            found,
            ("keep the nodes whose data is wanted, move the others' datadir away, rerun",),
        )
    known = [s for s in with_history if s.position is not None]
    unknown = [s for s in with_history if s.position is None]
    best = max((s.position.seqno for s in known if s.position is not None), default=None)
    if forced is not None:
        return _forced(states, forced, best, found)
    if unknown:
        return _stop(
            "the position of " + ", ".join(s.node for s in unknown) + " cannot be read; "
            "starting without it could drop writes only it holds",
            found,
            (
                "bring the node(s) back (their engine, their volume) and rerun",
                "or choose a node with --galera-bootstrap NODE, accepting that writes only"
                " the unread node(s) hold are lost (a known-newer node cannot be chosen)",
            ),
        )
    return _most_advanced(known, found)


def _most_advanced(known: Sequence[NodeState], found: tuple[str, ...]) -> Decision:
    """The start among nodes whose positions were all read, in one history."""
    best = max(s.position.seqno for s in known if s.position is not None)
    ahead = [s for s in known if s.position is not None and s.position.seqno == best]
    claims = [s for s in known if s.safe_to_bootstrap]
    behind_claims = [s.node for s in claims if s not in ahead]
    if behind_claims:
        return _stop(
            f"{', '.join(behind_claims)} says it left the cluster last, yet "
            f"{', '.join(s.node for s in ahead)} is further ahead (seqno {best})",
            found,
            ("inspect both nodes' data; choose one with --galera-bootstrap NODE",),
        )
    if len(ahead) == 1:
        node = ahead[0].node
        return Decision(
            Action.BOOTSTRAP, node, f"{node} is the most advanced (seqno {best})", found
        )
    flagged = [s.node for s in ahead if s.safe_to_bootstrap]
    if len(flagged) > 1:
        return _stop(
            f"{', '.join(flagged)} each say they left the cluster last",
            found,
            ("inspect their data; choose one with --galera-bootstrap NODE",),
        )
    # Equal positions in the same history are the same committed data: any will do.
    node = flagged[0] if flagged else ahead[0].node
    why = f"{', '.join(s.node for s in ahead)} are all at seqno {best}: the same data"
    return Decision(Action.BOOTSTRAP, node, why, found)


def _forced(
    states: Sequence[NodeState], forced: str, best: int | None, found: tuple[str, ...]
) -> Decision:
    chosen = next(s for s in states if s.node == forced)
    if chosen.fresh or chosen.position is None:
        return _stop(
            f"{forced} has no readable position to start from",
            found,
            ("choose a node whose position was read",),
        )
    if best is not None and chosen.position.seqno < best:
        ahead = [s.node for s in states if s.position is not None and s.position.seqno == best]
        return _stop(
            f"{forced} is behind {', '.join(ahead)} (seqno {chosen.position.seqno} < {best}):"
            " starting from it would drop their newer writes",
            found,
            (f"choose {ahead[0]}, or no node and let colla decide",),
        )
    return Decision(Action.BOOTSTRAP, forced, f"{forced}, as the operator chose", found)


def _stop(reason: str, found: tuple[str, ...], choices: tuple[str, ...]) -> Decision:
    return Decision(Action.STOP, None, reason, found, choices)
