"""The swap journal reads the rows earlier colla versions stored and writes the same JSON,
and its step and status names are the stored strings."""

from __future__ import annotations

import json
from dataclasses import asdict

from colla.history.store import OperationState, RevisionStatus
from colla.model.specs import TaskSpec, spec_to_dict
from colla.upgrade.journal import Journal, Step
from tests.unit.test_plan import spec

NEW = spec({"name": "keystone", "service": "keystone", "node": "node1"})
RESTORE = TaskSpec("keystone-restore", "keystone", "node1", "img", "sha256:1", "/c", ())
CONTRACT = TaskSpec("keystone-contract", "keystone", "node1", "img", "sha256:1", "/d", ())

# A journal as the dict-based swap stored it (keys and shapes written by hand).
STORED = {
    "new": [spec_to_dict(NEW)],
    "restore": asdict(RESTORE),
    "contract": [asdict(CONTRACT)],
    "db_changed": True,
    "revisions": [7, 8],
    "haproxy": [["keystone-api", ["keystone-api-a-1"], ["keystone-api-b-1"]]],
    "tasks": [["node1", "keystone-contract"], ["node1", "keystone-restore"]],
}


def _json(data: dict[str, object]) -> str:
    return json.dumps(data, sort_keys=True)


def test_a_stored_journal_reads_back_and_writes_the_same_json() -> None:
    journal = Journal.from_dict(json.loads(_json(STORED)))
    assert journal.new == (NEW,) and journal.restore == RESTORE
    assert journal.contract == (CONTRACT,) and journal.revisions == (7, 8)
    assert journal.haproxy == (("keystone-api", ("keystone-api-a-1",), ("keystone-api-b-1",)),)
    assert journal.db_changed and not journal.restored
    assert _json(journal.to_dict()) == _json(STORED)
    restored = {**STORED, "restored": True}
    assert _json(Journal.from_dict(json.loads(_json(restored))).to_dict()) == _json(restored)


def test_keys_an_older_row_lacks_take_their_defaults() -> None:
    journal = Journal.from_dict({"new": [spec_to_dict(NEW)], "restore": None})
    assert journal.contract == () and journal.tasks == () and journal.haproxy == ()
    assert journal.revisions == () and not journal.db_changed and not journal.restored


def test_steps_and_statuses_are_the_stored_strings() -> None:
    assert [s.value for s in (Step.START_NEW, Step.STOP_OLD, Step.PREPARE_NEW)] == [
        "start-new",
        "stop-old",
        "prepare-new",
    ]
    assert str(Step.REVERT) == "revert" and f"{Step.COMMIT}" == "commit"
    assert [s.value for s in RevisionStatus] == ["pending", "healthy", "rolled_back"]
    assert [s.value for s in OperationState] == ["running", "done", "reverted"]
