"""Upgrade and rollback of Keystone on the real cloud: success, failures, kills, bad input.

Runs after test_core_cloud (file order), on the same all-in-one deployment. Each test
leaves Keystone healthy at the globals' tag unless it says otherwise.
"""

from __future__ import annotations

import base64
import fcntl
import json
import subprocess
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from colla.lock import LOCK_FILE
from colla.model.specs import LABEL_MANAGED, LABEL_TASK
from tests.e2e.conftest import BIN, engine_state, killed_at, openstack

pytestmark = pytest.mark.e2e

GOOD = "zed-upgrade"
BROKEN = "zed-broken"
BAD_MIGRATION = "zed-badmigration"
SCHEMA_CHANGE = "zed-schema"

# A keystone-manage that writes to the database, then fails: the dump must be restored.
FAILING_MIGRATION = """#!/bin/sh
python3 - <<'PY'
import configparser
import sqlalchemy
config = configparser.ConfigParser(interpolation=None)
config.read("/etc/keystone/keystone.conf")
engine = sqlalchemy.create_engine(config["database"]["connection"])
with engine.begin() as connection:
    connection.execute(sqlalchemy.text("CREATE TABLE colla_marker (id INT)"))
PY
echo "migration failed on purpose" >&2
exit 1
"""

# A keystone-manage whose db_sync succeeds and leaves one more alembic version row, as a
# release's migration would: an upgrade to it changes the schema, so a rollback has to
# restore the dump. The row goes before each db_sync (alembic could not find its
# revision) and comes back after it.
SCHEMA_MIGRATION = """#!/bin/sh
row() {
python3 - "$1" <<'PY'
import configparser, sys
import sqlalchemy
config = configparser.ConfigParser(interpolation=None)
config.read("/etc/keystone/keystone.conf")
engine = sqlalchemy.create_engine(config["database"]["connection"])
sql = {
    "add": "INSERT IGNORE INTO alembic_version VALUES ('colla0schema')",
    "drop": "DELETE FROM alembic_version WHERE version_num = 'colla0schema'",
}[sys.argv[1]]
with engine.begin() as connection:
    connection.execute(sqlalchemy.text(sql))
PY
}
[ "$1" = db_sync ] || exec /usr/bin/keystone-manage "$@"
row drop && /usr/bin/keystone-manage "$@" && row add
"""


def _footer(command: str) -> str:
    return "{% block keystone_footer %}RUN " + command + "{% endblock %}\n"


OVERRIDES = {
    GOOD: _footer("echo colla-upgrade-test > /etc/colla-upgrade"),
    # The service cannot start: its WSGI entry point is gone.
    BROKEN: _footer("rm /usr/bin/keystone-wsgi-public"),
    BAD_MIGRATION: _footer(
        f"echo {base64.b64encode(FAILING_MIGRATION.encode()).decode()} | base64 -d "
        "> /usr/local/bin/keystone-manage && chmod 0755 /usr/local/bin/keystone-manage"
    ),
    SCHEMA_CHANGE: _footer(
        f"echo {base64.b64encode(SCHEMA_MIGRATION.encode()).decode()} | base64 -d "
        "> /usr/local/bin/keystone-manage && chmod 0755 /usr/local/bin/keystone-manage"
    ),
}


@pytest.fixture(scope="module")
def tags(config_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Build keystone under three extra tags (ancestors cached)."""
    directory = tmp_path_factory.mktemp("overrides")
    for tag, text in OVERRIDES.items():
        override = directory / f"{tag}.j2"
        override.write_text(text)
        code = run(["build", "^keystone$", "--tag", tag, "--template-override", str(override)])
        assert code == 0, tag
    return {tag: f"colla/keystone:{tag}" for tag in OVERRIDES}


def _keystone(engine: Engine) -> tuple[str, str | None]:
    info = engine.container("keystone")
    assert info is not None
    return info.image_id, info.health


def _history(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(["history", "keystone", "--json", "-c", str(config_dir)]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def _table_exists(engine: Engine, table: str) -> bool:
    result = subprocess.run(
        [
            "docker",
            "exec",
            "mariadb",
            "mariadb",
            "-uroot",
            "-N",
            "-e",
            "SELECT COUNT(*) FROM information_schema.tables "
            f"WHERE table_schema='keystone' AND table_name='{table}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip() == "1"


def test_upgrade_keystone(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    openstack(config_dir, "project", "create", "--or-show", "--domain", "default", "colla-upgrade")
    before, _ = _keystone(engine)
    assert run(["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)]) == 0
    image, health = _keystone(engine)
    new = engine.image(tags[GOOD])
    assert new is not None and image == new.id and image != before and health == "healthy"
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()
    projects = json.loads(openstack(config_dir, "project", "list", "-f", "json"))
    assert "colla-upgrade" in {p["Name"] for p in projects}
    assert engine.container("keystone-colla-old") is None
    rows = _history(config_dir, capsys)
    assert rows[-1]["operation"] == "upgrade" and rows[-1]["status"] == "healthy"
    # A dump was taken; the migrations left the schema version as it was (same release),
    # so a rollback of this upgrade needs no restore.
    assert rows[-1]["backup"] and rows[-1]["migrated"] is False
    # A deploy keeps the upgraded version: the history pins its tag.
    assert run(["deploy", "-c", str(config_dir)]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_rollback_then_forward_with_to(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    upgraded, _ = _keystone(engine)
    assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
    image, health = _keystone(engine)
    base = engine.image("colla/keystone:zed")
    assert base is not None and image == base.id and health == "healthy"
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()
    rows = _history(config_dir, capsys)
    assert rows[-1]["operation"] == "rollback" and rows[-1]["status"] == "healthy"
    target = next(
        r for r in reversed(rows) if r["operation"] == "upgrade" and r["status"] == "healthy"
    )
    assert (
        run(["rollback", "keystone", "--to", str(target["id"]), "--yes", "-c", str(config_dir)])
        == 0
    )
    assert _keystone(engine)[0] == upgraded
    assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
    assert _keystone(engine)[0] == base.id


def test_a_broken_image_is_rolled_back(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = _keystone(engine)
    code = run(["upgrade", "keystone", "--tag", BROKEN, "-c", str(config_dir)])
    err = capsys.readouterr().err
    assert code != 0
    assert "upgrade of keystone failed and was rolled back" in " ".join(err.split())
    assert _keystone(engine) == (before, "healthy")
    assert engine.container("keystone-colla-old") is None
    rows = _history(config_dir, capsys)
    assert rows[-1]["status"] == "rolled_back"
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()


def test_a_failed_migration_restores_the_database(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = _keystone(engine)
    code = run(["upgrade", "keystone", "--tag", BAD_MIGRATION, "-c", str(config_dir)])
    assert code != 0
    assert "migration failed on purpose" in capsys.readouterr().err
    assert not _table_exists(engine, "colla_marker")
    assert _keystone(engine) == (before, "healthy")
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()


def test_a_rollback_past_a_schema_change_asks_before_restoring(
    engine: Engine, config_dir: Path, tags: dict[str, str]
) -> None:
    before, _ = _keystone(engine)
    assert run(["upgrade", "keystone", "--tag", SCHEMA_CHANGE, "-c", str(config_dir)]) == 0
    upgraded = engine.container("keystone")
    assert upgraded is not None and upgraded.health == "healthy"
    # Without --yes, the rollback warns that the dump loses later writes and asks; "n"
    # leaves the upgraded container and its schema as they were.
    declined = subprocess.run(
        [str(BIN / "colla"), "rollback", "keystone", "-c", str(config_dir)],
        input="n\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = " ".join(declined.stderr.split())
    assert declined.returncode != 0, declined.stdout + declined.stderr
    assert "data written since then is lost" in said and "not confirmed; nothing changed" in said
    after = engine.container("keystone")
    assert after is not None and (after.id, after.started_at) == (upgraded.id, upgraded.started_at)
    assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
    assert _keystone(engine) == (before, "healthy")
    # The dump took the extra version row away: a later db_sync (the next test's upgrade)
    # would fail on it otherwise.
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()


@pytest.mark.parametrize(
    "step", ["backup", "migrate", "prepare-new", "stop-old", "start-new", "verify", "commit"]
)
def test_kill_during_upgrade_then_recover(
    step: str, engine: Engine, config_dir: Path, tags: dict[str, str]
) -> None:
    before, _ = _keystone(engine)
    killed_at(at=step, args=["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)])
    assert run(["recover", "-c", str(config_dir)]) == 0
    names = {c.name for c in engine.containers(f"{LABEL_MANAGED}=true")}
    assert "keystone" in names and "keystone-colla-old" not in names
    image, health = _keystone(engine)
    assert health == "healthy"
    expected = engine.image(tags[GOOD]) if step == "commit" else None
    assert image == (expected.id if expected else before)
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()
    if step == "commit":
        assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0


@pytest.mark.parametrize(
    ("tag", "during"),
    [(GOOD, "backup"), (GOOD, "migrate"), (BAD_MIGRATION, "restore"), (GOOD, "contract")],
)
def test_kill_inside_a_step_then_recover(
    tag: str, during: str, engine: Engine, config_dir: Path, tags: dict[str, str]
) -> None:
    """colla dies while a task container runs; recover stops it, and leaves one healthy
    version with the data written before the upgrade (issue 11, item 3)."""
    project = f"colla-e2e-kill-{during}"
    openstack(config_dir, "project", "create", "--or-show", "--domain", "default", project)
    before, _ = _keystone(engine)
    killed_at(during=during, args=["upgrade", "keystone", "--tag", tag, "-c", str(config_dir)])
    assert run(["recover", "-c", str(config_dir)]) == 0
    assert engine.containers(f"{LABEL_TASK}") == []
    names = {c.name for c in engine.containers(f"{LABEL_MANAGED}=true")}
    assert "keystone" in names and not {n for n in names if n.startswith("keystone-colla")}
    image, health = _keystone(engine)
    assert health == "healthy"
    # The contract runs after the commit: that upgrade is completed, the others reverted.
    committed = engine.image(tags[GOOD]) if during == "contract" else None
    assert image == (committed.id if committed else before)
    assert not _table_exists(engine, "colla_marker")
    projects = json.loads(openstack(config_dir, "project", "list", "-f", "json"))
    assert project in {p["Name"] for p in projects}
    if committed:
        assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
    openstack(config_dir, "project", "delete", project)


def test_kill_during_a_rollback_then_recover(
    engine: Engine, config_dir: Path, tags: dict[str, str]
) -> None:
    """A rollback killed after the upgraded version stopped: recover leaves the upgraded
    version serving, and the rollback can then be done again."""
    before, _ = _keystone(engine)
    assert run(["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)]) == 0
    upgraded, _ = _keystone(engine)
    killed_at(at="start-new", args=["rollback", "keystone", "--yes", "-c", str(config_dir)])
    assert run(["recover", "-c", str(config_dir)]) == 0
    assert _keystone(engine) == (upgraded, "healthy")
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()
    assert run(["rollback", "keystone", "--yes", "-c", str(config_dir)]) == 0
    assert _keystone(engine) == (before, "healthy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["upgrade", "keystne", "--tag", GOOD], "unknown service 'keystne'"),
        (["upgrade", "keystone", "--tag", "no-such-tag"], "no image colla/keystone:no-such-tag"),
        (["rollback", "keystone", "--to", "99999", "--yes"], "revision 99999 does not exist"),
    ],
)
def test_bad_input_changes_nothing(
    args: list[str],
    message: str,
    engine: Engine,
    config_dir: Path,
    tags: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = engine_state(engine)
    assert run([*args, "-c", str(config_dir)]) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert engine_state(engine) == before


def test_upgrade_while_another_command_runs(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = engine_state(engine)
    with open(config_dir / LOCK_FILE, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            code = run(["upgrade", "keystone", "--tag", GOOD, "-c", str(config_dir)])
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    assert code != 0
    assert "another colla command" in capsys.readouterr().err
    assert engine_state(engine) == before


def test_prune_forgets_old_revisions_and_removes_their_images(
    engine: Engine, config_dir: Path, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Last of the module: the broken image was used only by revisions that prune forgets.
    broken = engine.image(tags[BROKEN])
    assert broken is not None
    before = _history(config_dir, capsys)
    assert run(["prune", "--keep", "1", "-c", str(config_dir)]) == 0
    after = _history(config_dir, capsys)
    assert 0 < len(after) < len(before)
    assert engine.image(broken.id) is None
    assert _keystone(engine) == (_base_image_id(engine), "healthy")
    assert openstack(config_dir, "token", "issue", "-f", "value", "-c", "id").strip()


def _base_image_id(engine: Engine) -> str:
    base = engine.image("colla/keystone:zed")
    assert base is not None
    return base.id
