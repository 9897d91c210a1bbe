"""What a swap journals: its steps, and the data recovery needs to revert or complete it.

The journal is stored as JSON with the operation in the history database; its keys and
the step names are the ones earlier colla versions wrote, so their rows still load and
``colla recover`` can finish what they left.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from colla.model.specs import ContainerSpec, TaskSpec, spec_from_dict, spec_to_dict, task_from_dict

Servers = tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # backend, old, new


class Step(StrEnum):
    """A swap's steps, each journalled before it runs (``revert``: the restore of a
    revert has run)."""

    PLANNED = "planned"
    BACKUP = "backup"
    MIGRATE = "migrate"
    PREPARE_NEW = "prepare-new"
    STOP_OLD = "stop-old"
    RESTORE = "restore"
    START_NEW = "start-new"
    VERIFY = "verify"
    SWITCH = "switch"
    COMMIT = "commit"
    CONTRACT = "contract"
    REVERT = "revert"


# Once the new version is verified, an interrupted operation is completed, not reverted.
COMMITTED_STEPS = (Step.COMMIT, Step.CONTRACT)


@dataclass(frozen=True)
class Journal:
    """One operation's recovery data."""

    new: tuple[ContainerSpec, ...]
    restore: TaskSpec | None  # restores the backup when a step changed the database
    contract: tuple[TaskSpec, ...] = ()
    db_changed: bool = False  # a step changed the database: a revert restores the dump
    revisions: tuple[int, ...] = ()  # the new revisions, pending until the swap ends
    haproxy: Servers = ()
    # Every task container of the operation (node, task name), so that recovery can stop
    # the one still running (a dump, a migration) before it restores anything.
    tasks: tuple[tuple[str, str], ...] = ()
    restored: bool = False  # a revert restored the dump: a second one must not again
    backup_name: str = ""  # the dump ``restore`` loads

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form stored with the operation."""
        data: dict[str, Any] = {
            "new": [spec_to_dict(s) for s in self.new],
            "restore": asdict(self.restore) if self.restore else None,
            "contract": [asdict(t) for t in self.contract],
            "db_changed": self.db_changed,
            "revisions": list(self.revisions),
            "haproxy": [[backend, list(old), list(new)] for backend, old, new in self.haproxy],
            "tasks": [list(t) for t in self.tasks],
        }
        if self.restored:
            data["restored"] = True
        if self.backup_name:
            data["backup_name"] = self.backup_name
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Journal:
        """Read a stored journal (keys that older rows lack take their defaults)."""
        restore = data.get("restore")
        return cls(
            new=tuple(spec_from_dict(d) for d in data["new"]),
            restore=task_from_dict(restore) if restore else None,
            contract=tuple(task_from_dict(t) for t in data.get("contract", [])),
            db_changed=bool(data.get("db_changed")),
            revisions=tuple(int(r) for r in data.get("revisions", [])),
            haproxy=tuple(
                (str(backend), tuple(old), tuple(new))
                for backend, old, new in data.get("haproxy", [])
            ),
            tasks=tuple((str(node), str(name)) for node, name in data.get("tasks", [])),
            restored=bool(data.get("restored")),
            backup_name=str(data.get("backup_name") or ""),
        )
