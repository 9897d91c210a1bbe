"""What prune forgets: all but the last N revisions per container, never the running one,
and only the images nothing needs any more."""

from __future__ import annotations

from colla.history.prune import prunable, unneeded_images
from colla.history.store import Revision


def _rev(id: int, container: str, status: str = "healthy", image_id: str = "") -> Revision:
    return Revision(
        id=id,
        service=container.split("_")[0],
        container=container,
        node="node1",
        operation="upgrade",
        operation_id=None,
        status=status,
        note="",
        image="img",
        image_id=image_id or f"sha256:{id}",
        digest="",
        spec_hash="",
        spec={},
        backup="",
        migrated=False,
        command="",
        created_at="",
        finished_at="",
    )


def test_all_but_the_last_n_of_each_container_are_forgotten() -> None:
    revisions = [_rev(1, "keystone"), _rev(2, "glance_api"), _rev(3, "keystone")]
    revisions += [_rev(4, "keystone", status="rolled_back")]
    # keystone's running revision is 3: the rolled-back 4 after it does not replace it.
    assert prunable(revisions, 1) == [1]
    assert prunable(revisions, 2) == [1]
    assert prunable(revisions, 3) == []


def test_the_running_revision_is_kept_however_old() -> None:
    revisions = [_rev(1, "keystone"), _rev(2, "keystone", "rolled_back")]
    revisions += [_rev(3, "keystone", "pending")]
    assert prunable(revisions, 1) == [2]


def test_only_images_that_nothing_needs_go() -> None:
    before = [_rev(1, "a", image_id="x"), _rev(2, "a", image_id="y"), _rev(3, "b", image_id="z")]
    after = [before[1]]
    assert unneeded_images(before, after, ["z"]) == ["x"]
