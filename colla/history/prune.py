"""What ``colla prune`` forgets: old revisions, and the images and pre-upgrade dumps no
one needs any more."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from colla.history.store import Revision, RevisionStatus


def prunable(revisions: Sequence[Revision], keep: int) -> list[int]:
    """The revisions (IDs, oldest first) beyond the last ``keep`` of each container.

    The revision each container runs (its latest healthy one) is never among them, so
    history can still roll back from what runs however small ``keep`` is.
    """
    by_container: dict[tuple[str, str], list[int]] = {}
    running: dict[tuple[str, str, str], int] = {}
    for r in revisions:
        by_container.setdefault((r.node, r.container), []).append(r.id)
        if r.status == RevisionStatus.HEALTHY:
            running[(r.service, r.node, r.container)] = r.id
    kept = set(running.values())
    return [i for ids in by_container.values() for i in ids[:-keep] if i not in kept]


def unneeded_images(
    before: Iterable[Revision], after: Iterable[Revision], in_use: Iterable[str]
) -> list[str]:
    """Image IDs that forgotten revisions named and neither a kept revision nor a
    container uses, sorted."""
    needed = {r.image_id for r in after} | set(in_use)
    return sorted({r.image_id for r in before} - needed)


def unneeded_dumps(before: Iterable[Revision], after: Iterable[Revision]) -> list[str]:
    """The pre-upgrade dumps (their names) that forgotten revisions named and no kept
    revision does: a rollback can no longer restore them, so they only fill the disk."""
    needed = {r.backup for r in after if r.backup}
    return sorted({r.backup for r in before if r.backup} - needed)
