"""The Galera recovery decision: it starts from the most advanced node, and stops, saying
what it found, whenever the positions do not prove which node that is."""

from __future__ import annotations

import itertools

import pytest

from colla.cluster.galera import (
    NO_HISTORY,
    Action,
    NodeState,
    Position,
    decide,
    parse_grastate,
    parse_recovered,
)

U = "6f4c1a2e-1b2c-11ef-9a1b-0242ac110002"
OTHER = "0b1e2c3d-4e5f-11ef-8a9b-0242ac110003"

GRASTATE = """# GALERA saved state
version: 2.1
uuid:    6f4c1a2e-1b2c-11ef-9a1b-0242ac110002
seqno:   1234
safe_to_bootstrap: 1
"""


def at(node: str, seqno: int, safe: bool = False, uuid: str = U) -> NodeState:
    return NodeState(node, Position(uuid, seqno), safe_to_bootstrap=safe)


def crashed(node: str, recovered: int | None) -> NodeState:
    again = None if recovered is None else Position(U, recovered)
    return NodeState(node, Position(U, -1), recovered=again)


def fresh(node: str) -> NodeState:
    return NodeState(node, Position(NO_HISTORY, -1))


def unreadable(node: str) -> NodeState:
    return NodeState(node, problem="its engine does not answer")


def test_grastate_and_recovered_positions_are_read() -> None:
    assert parse_grastate(GRASTATE) == (Position(U, 1234), True)
    crashed_file = GRASTATE.replace("1234", "-1").replace("bootstrap: 1", "bootstrap: 0")
    assert parse_grastate(crashed_file) == (Position(U, -1), False)
    log = (
        "2026-12-07 12:00:00 0 [Note] WSREP: Recovered position: "
        "6f4c1a2e-1b2c-11ef-9a1b-0242ac110002:1240\n"
    )
    assert parse_recovered(log) == Position(U, 1240)
    assert parse_recovered("InnoDB: Starting shutdown...\n") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "version: 2.1\nseqno: 3\n",
        GRASTATE.replace("1234", "many"),
        GRASTATE.replace("1234", "-7"),
    ],
)
def test_a_damaged_grastate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"grastate\.dat"):
        parse_grastate(text)


CASES = [
    # (what, states, forced, action, node)
    ("a running primary: the rest join it",
     [at("c1", 10), NodeState("c2", primary=True), unreadable("c3")], None, Action.JOIN, "c2"),
    ("a first deploy: no history anywhere",
     [fresh("c1"), fresh("c2"), fresh("c3")], None, Action.NEW, "c1"),
    ("graceful shutdown: the last to leave is ahead and says so",
     [at("c1", 10), at("c2", 12), at("c3", 15, safe=True)], None, Action.BOOTSTRAP, "c3"),
    ("a power cut: recovered positions decide",
     [crashed("c1", 40), crashed("c2", 42), crashed("c3", 41)], None, Action.BOOTSTRAP, "c2"),
    ("saved and recovered positions mixed",
     [at("c1", 40), crashed("c2", 39), crashed("c3", 44)], None, Action.BOOTSTRAP, "c3"),
    ("equal positions are the same data: the first in inventory order",
     [crashed("c1", 42), crashed("c2", 42), crashed("c3", 40)], None, Action.BOOTSTRAP, "c1"),
    ("equal positions, one flagged: the flagged one",
     [at("c1", 42), at("c2", 42, safe=True)], None, Action.BOOTSTRAP, "c2"),
    ("a new node beside old ones has nothing to lose",
     [fresh("c1"), at("c2", 8), at("c3", 9)], None, Action.BOOTSTRAP, "c3"),
    ("a crashed node not recovered: stop",
     [at("c1", 40), crashed("c2", None), at("c3", 41)], None, Action.STOP, None),
    ("an unreadable node: stop",
     [at("c1", 40), unreadable("c2"), at("c3", 41)], None, Action.STOP, None),
    ("unreadable beside fresh nodes: it may hold the data, stop",
     [unreadable("c1"), fresh("c2"), fresh("c3")], None, Action.STOP, None),
    ("two nodes each say they left last: stop",
     [at("c1", 42, safe=True), at("c2", 42, safe=True)], None, Action.STOP, None),
    ("the flagged node is behind another: stop",
     [at("c1", 40, safe=True), at("c2", 42)], None, Action.STOP, None),
    ("two clusters' histories: stop",
     [at("c1", 40), at("c2", 42, uuid=OTHER)], None, Action.STOP, None),
    ("the operator stands in for an unreadable node",
     [at("c1", 40), unreadable("c2"), at("c3", 41)], "c3", Action.BOOTSTRAP, "c3"),
    ("the operator cannot pick a node that is behind",
     [at("c1", 40), unreadable("c2"), at("c3", 41)], "c1", Action.STOP, None),
    ("nor one with no position",
     [at("c1", 40), unreadable("c2")], "c2", Action.STOP, None),
    ("nor a node that is not a database node",
     [at("c1", 40), at("c2", 41)], "c9", Action.STOP, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("states", "forced", "action", "node"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_decision(
    states: list[NodeState], forced: str | None, action: Action, node: str | None
) -> None:
    decision = decide(states, forced)
    assert (decision.action, decision.node) == (action, node), decision.reason
    # Every node is described, whatever the outcome; a stop says what can be done.
    assert len(decision.found) == len(states)
    assert all(
        line.startswith(s.node + ": ") for line, s in zip(decision.found, states, strict=True)
    )
    assert bool(decision.choices) == (action is Action.STOP)


def test_never_from_a_node_that_is_behind() -> None:
    # Every order of three known positions: the start is always the highest one.
    for seqnos in itertools.permutations([5, 9, 7]):
        states = [crashed(f"c{i}", n) for i, n in enumerate(seqnos)]
        decision = decide(states)
        chosen = next(s for s in states if s.node == decision.node)
        assert chosen.position == Position(U, 9)


def test_a_stop_names_what_it_found() -> None:
    decision = decide([at("c1", 40), crashed("c2", None), unreadable("c3")])
    assert decision.action is Action.STOP
    assert "c2, c3" in decision.reason
    assert decision.found == (
        f"c1: at {U}:40 (saved)",
        "c2: position unknown (grastate.dat has seqno -1, not recovered)",
        "c3: position unknown (its engine does not answer)",
    )
