"""The history store and spec round trips, on a temporary SQLite file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from colla.history.pins import pinned_tags
from colla.history.store import History, OperationState, RevisionStatus
from colla.model.specs import spec_from_dict, spec_to_dict
from colla.upgrade.swap import record_revision
from tests.unit.test_plan import spec


def test_a_spec_survives_json() -> None:
    made = spec({"name": "a", "service": "a", "volumes": {"v": "/v"}, "environment": {"K": "1"}})
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(made)))) == made


def test_revisions_statuses_and_privacy(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite")
    assert (tmp_path / "history.sqlite").stat().st_mode & 0o777 == 0o600
    made = spec({"name": "keystone", "service": "keystone", "image": "colla/keystone:zed-2"})
    first = history.add_revision(
        service="keystone",
        container="keystone",
        node="node1",
        operation="upgrade",
        status="pending",
        image=made.image,
        image_id=made.image_id,
        spec_hash=made.spec_hash,
        spec=spec_to_dict(made),
        command="colla upgrade keystone --tag zed-2",
    )
    history.set_status(first, RevisionStatus.HEALTHY)
    revision = history.revision(first)
    assert revision is not None and revision.status == "healthy" and revision.finished_at
    assert spec_from_dict(revision.spec) == made
    assert "spec" not in revision.summary()
    assert pinned_tags(history, "zed") == {("node1", "keystone"): "zed-2"}
    assert pinned_tags(history, "zed-2") == {}


def test_operations_are_journalled_until_finished(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    op = history.start_operation("upgrade", "keystone", {"new": []})
    history.step(op, "backup")
    history.step(op, "migrate", {"new": [], "db_changed": True})
    assert [o.id for o in history.unfinished()] == [op]
    found = history.operation(op)
    assert found is not None and found.step == "migrate" and found.data["db_changed"] is True
    history.finish_operation(op, OperationState.REVERTED)
    assert history.unfinished() == []
    assert history.journal(op) == ["planned", "backup", "migrate", "reverted"]


def test_parallel_jobs_record_revisions_at_the_same_time(tmp_path: Path) -> None:
    # The applier records each container's revision from its own worker thread.
    history = History(tmp_path / "history.sqlite")
    made = spec({"name": "memcached", "service": "memcached"})
    errors: list[BaseException] = []

    def record() -> None:
        try:
            for _ in range(30):
                record_revision(
                    history, made, operation="deploy", status="healthy", command="colla deploy"
                )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(history.revisions("memcached")) == 240
