"""The SQLite store of revisions and operations.

A revision is one container as it ran: its full spec (rendered files included, so a
rollback restores config too), image, status and the command that made it. An operation
(upgrade, rollback) is journalled step by step, so a killed colla can be recovered.
The file holds secrets (rendered config): it is created with mode 0600.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from colla.errors import CollaError
from colla.history.peek import check_is_history

HISTORY_FILE = "history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    container TEXT NOT NULL,
    node TEXT NOT NULL,
    operation TEXT NOT NULL,
    operation_id INTEGER,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL,
    image_id TEXT NOT NULL,
    digest TEXT NOT NULL DEFAULT '',
    spec_hash TEXT NOT NULL,
    spec TEXT NOT NULL,
    backup TEXT NOT NULL DEFAULT '',
    migrated INTEGER NOT NULL DEFAULT 0,
    command TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS revisions_by_container ON revisions (node, container, id);
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


def now() -> str:
    """A UTC timestamp, to the second."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RevisionStatus(StrEnum):
    """A revision's status: the values stored in the ``status`` column."""

    PENDING = "pending"  # its operation has not finished
    HEALTHY = "healthy"  # it ran healthy (deployed, or its swap was committed)
    ROLLED_BACK = "rolled_back"  # its swap failed and the previous version is back


class OperationState(StrEnum):
    """An operation's state: the values stored in the ``state`` column."""

    RUNNING = "running"  # unfinished: ``colla recover`` completes or reverts it
    DONE = "done"
    REVERTED = "reverted"


@dataclass(frozen=True)
class Revision:
    """One container as it ran (or was meant to)."""

    id: int
    service: str
    container: str
    node: str
    operation: str
    operation_id: int | None
    status: str
    note: str
    image: str
    image_id: str
    digest: str
    spec_hash: str
    spec: dict[str, Any]
    backup: str
    migrated: bool
    command: str
    created_at: str
    finished_at: str

    def summary(self) -> dict[str, Any]:
        """Everything but the spec (which holds rendered secrets)."""
        return {k: v for k, v in vars(self).items() if k != "spec"}


@dataclass(frozen=True)
class Operation:
    """An upgrade or rollback, and the last step it reached."""

    id: int
    kind: str
    service: str
    state: str
    step: str
    data: dict[str, Any]
    pid: int
    started_at: str
    updated_at: str


class History:
    """The revisions and the operation journal of one deployment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        check_is_history(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            os.chmod(path, 0o600)
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            # One connection, shared by the applier's parallel jobs: a transaction
            # begun by one while another's was open failed ("cannot start a transaction
            # within a transaction") and broke a deploy.
            self._lock = threading.RLock()
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            # Which deployment this is: made once, with the history, and carried by its
            # backups, so that a restore can tell its own archive from another cloud's.
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('deployment', ?)",
                (uuid.uuid4().hex,),
            )
        except (OSError, sqlite3.Error) as e:
            raise CollaError(f"{path}: cannot open the history: {e}") from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @property
    def deployment(self) -> str:
        """This deployment's identity (made with its history, kept by a restore)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'deployment'").fetchone()
        return str(row[0])

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the whole history at ``path`` (mode 0600), made while
        other commands may read it."""
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        os.close(fd)
        target = sqlite3.connect(path)
        try:
            with self._lock:
                self._db.backup(target)
        finally:
            target.close()

    # revisions ----------------------------------------------------------------------

    def add_revision(self, **fields: Any) -> int:
        """Insert a revision; ``spec`` is a dict, stored as JSON."""
        row = {
            "note": "",
            "digest": "",
            "backup": "",
            "migrated": 0,
            "operation_id": None,
            "finished_at": "",
            "created_at": now(),
            **fields,
        }
        row["spec"] = json.dumps(row["spec"], sort_keys=True)
        row["migrated"] = int(bool(row["migrated"]))
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._tx() as db:
            cursor = db.execute(f"INSERT INTO revisions ({columns}) VALUES ({marks})", row)
            return int(cursor.lastrowid or 0)

    def set_status(self, revision: int, status: RevisionStatus, note: str = "") -> None:
        """Mark a revision healthy, failed or rolled back."""
        with self._tx() as db:
            db.execute(
                "UPDATE revisions SET status = ?, note = ?, finished_at = ? WHERE id = ?",
                (status, note, now(), revision),
            )

    def set_migrated(self, revision: int, migrated: bool) -> None:
        """Record whether a revision's migrations changed the schema."""
        with self._tx() as db:
            db.execute("UPDATE revisions SET migrated = ? WHERE id = ?", (int(migrated), revision))

    def revision(self, revision: int) -> Revision | None:
        """One revision by ID."""
        row = self._db.execute("SELECT * FROM revisions WHERE id = ?", (revision,)).fetchone()
        return _revision(row) if row else None

    def revisions(self, service: str | None = None) -> list[Revision]:
        """Every revision (of one service), oldest first."""
        if service is None:
            rows = self._db.execute("SELECT * FROM revisions ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM revisions WHERE service = ? ORDER BY id", (service,)
            ).fetchall()
        return [_revision(r) for r in rows]

    def delete_revisions(self, ids: list[int]) -> None:
        """Forget revisions (prune)."""
        with self._tx() as db:
            db.executemany("DELETE FROM revisions WHERE id = ?", [(i,) for i in ids])

    # operations ---------------------------------------------------------------------

    def start_operation(self, kind: str, service: str, data: dict[str, Any]) -> int:
        """Open an operation at step ``planned``."""
        stamp = now()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO operations (kind, service, state, step, data, pid, started_at, "
                "updated_at) VALUES (?, ?, ?, 'planned', ?, ?, ?, ?)",
                (
                    kind,
                    service,
                    OperationState.RUNNING,
                    json.dumps(data, sort_keys=True),
                    os.getpid(),
                    stamp,
                    stamp,
                ),
            )
            operation = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO journal (operation_id, step, at) VALUES (?, 'planned', ?)",
                (operation, stamp),
            )
        return operation

    def step(self, operation: int, step: str, data: dict[str, Any] | None = None) -> None:
        """Journal that ``step`` is about to run (and update the operation's data)."""
        stamp = now()
        with self._tx() as db:
            if data is None:
                db.execute(
                    "UPDATE operations SET step = ?, updated_at = ? WHERE id = ?",
                    (step, stamp, operation),
                )
            else:
                db.execute(
                    "UPDATE operations SET step = ?, data = ?, updated_at = ? WHERE id = ?",
                    (step, json.dumps(data, sort_keys=True), stamp, operation),
                )
            db.execute(
                "INSERT INTO journal (operation_id, step, at) VALUES (?, ?, ?)",
                (operation, step, stamp),
            )

    def finish_operation(self, operation: int, state: OperationState) -> None:
        """Close an operation as ``done`` or ``reverted``."""
        self.step(operation, state)
        with self._tx() as db:
            db.execute("UPDATE operations SET state = ? WHERE id = ?", (state, operation))

    def unfinished(self) -> list[Operation]:
        """Operations that never reached done or reverted."""
        rows = self._db.execute(
            "SELECT * FROM operations WHERE state = ? ORDER BY id", (OperationState.RUNNING,)
        ).fetchall()
        return [_operation(r) for r in rows]

    def operation(self, operation: int) -> Operation | None:
        """One operation by ID."""
        row = self._db.execute("SELECT * FROM operations WHERE id = ?", (operation,)).fetchone()
        return _operation(row) if row else None

    def journal(self, operation: int) -> list[str]:
        """The steps an operation went through, in order."""
        rows = self._db.execute(
            "SELECT step FROM journal WHERE operation_id = ? ORDER BY id", (operation,)
        ).fetchall()
        return [str(r["step"]) for r in rows]


def _revision(row: sqlite3.Row) -> Revision:
    data = dict(row)
    data["spec"] = json.loads(data["spec"])
    data["migrated"] = bool(data["migrated"])
    return Revision(**data)


def _operation(row: sqlite3.Row) -> Operation:
    data = dict(row)
    data["data"] = json.loads(data["data"])
    return Operation(**data)
