"""What history pins of the running state: the tags and API slots that upgrades and
rollbacks left, which a deploy keeps instead of returning to the globals."""

from __future__ import annotations

from pathlib import Path

from colla.deploy.deployment import DesiredOptions
from colla.history.store import History, Revision, RevisionStatus
from colla.model.catalog import ALT_PORT_OFFSET
from colla.project import Project

# The operations that swap a service's containers (a reconfigure keeps the images it
# found, which may be an upgrade's).
SWAPS = ("upgrade", "rollback", "reconfigure")


def open_history(project: Project) -> History:
    """The project's history store (``colla_history_path``, under the config dir)."""
    path = Path(project.globals.colla_history_path)
    return History(path if path.is_absolute() else project.config_dir / path)


def tag_of(image: str) -> str:
    """The tag of an image reference."""
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else "latest"


def current_revisions(
    history: History, service: str | None = None
) -> dict[tuple[str, str], Revision]:
    """The latest healthy revision of each (node, container) (of one service)."""
    found: dict[tuple[str, str], Revision] = {}
    for revision in history.revisions(service):
        if revision.status == RevisionStatus.HEALTHY:
            found[(revision.node, revision.container)] = revision
    return found


def pinned_tags(history: History, default_tag: str) -> dict[tuple[str, str], str]:
    """(node, service) whose running version came from an upgrade or rollback: its tag.

    A deploy keeps them there instead of returning them to the globals' tag; per node,
    since an upgrade may have been limited to some nodes.
    """
    latest = current_revisions(history)
    tags = {}
    for revision in latest.values():
        if revision.operation in SWAPS and tag_of(revision.image) != default_tag:
            tags[(revision.node, revision.service)] = tag_of(revision.image)
    return tags


def pinned_slots(history: History) -> set[str]:
    """Services whose running API listens on the alternate port (an overlapped swap)."""
    latest = current_revisions(history)
    return {
        r.service for r in latest.values() if any(p >= ALT_PORT_OFFSET for p in r.spec["ports"])
    }


def history_options(history: History, default_tag: str) -> DesiredOptions:
    """The desired-state options that keep what upgrades and rollbacks left: the
    per-node tags and the alternate API slots history records."""
    return DesiredOptions(
        alt=frozenset(pinned_slots(history)), node_tags=pinned_tags(history, default_tag)
    )
