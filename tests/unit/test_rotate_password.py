"""`colla rotate-password`'s plan, without Docker: what it changes, what it restarts, the
SQL and the registration it runs, and its journal (issue 17)."""

from __future__ import annotations

import ast
import configparser
import json
import urllib.parse
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.config.accounts import ACCOUNTS_FILE, load_accounts, other_account
from colla.deploy import deployment
from colla.deploy.password_rotation import (
    DATABASE,
    IDENTITY,
    JOURNAL_FILE,
    MESSAGING,
    RELOAD,
    STOP_FIRST,
    Rotation,
    admit_task,
    commit,
    plan_rotation,
    read_journal,
    refuse_unfinished,
    retire_command,
    retire_task,
    rotated,
    rotation_plan,
    write_journal,
)
from colla.errors import BadInput
from colla.history.store import History
from colla.model.specs import TaskSpec
from colla.site import Site, load_site
from colla.upgrade.operations import reconfigure_plan
from tests.fakes import FakeEngine


def _file(task: TaskSpec | None, name: str) -> str:
    """The content of the task file installed as ``name``."""
    assert task is not None
    for f in task.files:
        if f.dest.endswith("/" + name):
            return str(f.content)
    raise AssertionError(f"no {name}")


def _rendered(site: Site, container: str, name: str) -> str:
    """The content of file ``name`` of ``container`` as ``site`` renders it."""
    return next(
        f.content
        for n in site.rendered.values()
        for c in n.containers
        if c.name == container
        for f in c.files
        if f.dest.endswith("/" + name)
    )


def test_a_database_password_names_its_users(config_dir: Path) -> None:
    site = load_site(config_dir)
    rotation = plan_rotation(site, "nova_database_password", "n3w")
    assert rotation.kind == DATABASE
    assert rotation.users == ("nova",)
    assert rotation.old == site.project.passwords["nova_database_password"]


def test_a_database_user_accepts_both_passwords_until_it_retires(config_dir: Path) -> None:
    site = load_site(config_dir)
    rotation = plan_rotation(site, "keystone_database_password", "n3w'x")
    admit = _file(admit_task(site, rotation, None), "databases.sql")
    assert "USING PASSWORD('n3w\\'x') OR mysql_native_password USING PASSWORD(" in admit
    assert rotation.old.replace("'", "\\'") in admit
    retire = _file(retire_task(site, rotation, None), "databases.sql")
    assert "IDENTIFIED BY 'n3w\\'x';" in retire and " OR " not in retire
    assert retire_command(site, rotation) is None


def test_a_service_password_moves_the_service_to_its_twin_account(config_dir: Path) -> None:
    site = load_site(config_dir)
    rotation = plan_rotation(site, "nova_keystone_password", "n3w")
    assert (rotation.kind, rotation.service) == (IDENTITY, "nova")
    assert (rotation.old_account, rotation.new_account) == ("nova", "nova-alt")
    admit = json.loads(_file(admit_task(site, rotation, None), "register.json"))
    assert admit["user"] == {"name": "nova-alt", "password": "n3w", "roles": ["admin", "service"]}
    assert admit["retire"] == []
    retire = json.loads(_file(retire_task(site, rotation, None), "register.json"))
    assert retire["retire"] == ["nova"]
    # The next rotation goes back to the user's own name.
    again = plan_rotation(rotated(site, rotation), "nova_keystone_password", "n3w2")
    assert (again.old_account, again.new_account) == ("nova-alt", "nova")


def test_the_plan_restarts_exactly_the_containers_that_use_the_password(
    config_dir: Path,
) -> None:
    site = load_site(config_dir)
    history = History(config_dir / "history.sqlite")
    keystone_db = rotation_plan(
        site, history, plan_rotation(site, "keystone_database_password", "n3w")
    )
    assert [(s, c) for s, c, _ in keystone_db.services] == [("keystone", ("localhost/keystone",))]
    nova = rotation_plan(site, history, plan_rotation(site, "nova_keystone_password", "n3w"))
    restarted = {s: c for s, c, _ in nova.services}
    assert set(restarted) == {"nova", "nova_compute"}
    assert "localhost/nova_api" in restarted["nova"]
    assert "localhost/nova_compute" in restarted["nova_compute"]


def test_the_rendered_config_names_the_account_in_use(config_dir: Path) -> None:
    site = load_site(config_dir)
    rotation = plan_rotation(site, "glance_keystone_password", "n3w")
    commit(site, rotation)
    assert load_accounts(config_dir / ACCOUNTS_FILE, {"glance_keystone_password": "glance"}) == {
        "glance_keystone_password": "glance-alt"
    }
    again = load_site(config_dir)
    assert again.project.passwords["glance_keystone_password"] == "n3w"
    conf = _rendered(again, "glance_api", "glance-api.conf")
    assert "username = glance-alt" in conf
    assert "username = glance\n" not in conf


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("database_password", "not a password colla rotates without downtime"),
        ("no_such_password", "not a password colla rotates without downtime"),
    ],
)
def test_other_passwords_are_refused_with_the_way_to_change_them(
    config_dir: Path, key: str, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        plan_rotation(load_site(config_dir), key)


def test_a_database_password_must_stay_ascii(config_dir: Path) -> None:
    with pytest.raises(BadInput, match="must be ASCII"):
        plan_rotation(load_site(config_dir), "nova_database_password", "é")


def test_the_journal_keeps_the_rotation_privately(config_dir: Path) -> None:
    rotation = Rotation(
        "nova_keystone_password", IDENTITY, "o", "n", (), "nova", "nova", "nova-alt"
    )
    write_journal(config_dir, rotation)
    assert (config_dir / JOURNAL_FILE).stat().st_mode & 0o777 == 0o600
    assert read_journal(config_dir) == rotation


def test_an_interrupted_rotation_of_each_kind_is_read_back(config_dir: Path) -> None:
    # The message bus's was refused as "not a rotation colla wrote", so an interrupted
    # rotation of rabbitmq_password could be neither finished nor got past.
    site = load_site(config_dir)
    for key in ("nova_database_password", "nova_keystone_password", "rabbitmq_password"):
        rotation = plan_rotation(site, key, "n3w")
        write_journal(config_dir, rotation)
        assert read_journal(config_dir) == rotation
        assert refuse_unfinished(config_dir, key) == rotation


def test_a_journal_colla_did_not_write_is_refused(config_dir: Path) -> None:
    (config_dir / JOURNAL_FILE).write_text("key: x\nkind: other\nnew: y\n")
    with pytest.raises(BadInput, match=f"{JOURNAL_FILE}: not a rotation colla wrote"):
        read_journal(config_dir)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nova_database_password: nova-alt\n", "not the password of an account colla rotates"),
        ("nova_keystone_password: glance\n", "expected 'nova' or 'nova-alt'"),
    ],
)
def test_a_bad_accounts_file_names_the_key(config_dir: Path, text: str, message: str) -> None:
    (config_dir / ACCOUNTS_FILE).write_text(text)
    with pytest.raises(BadInput, match=f"{ACCOUNTS_FILE}: key .*{message}"):
        load_site(config_dir)


def test_accounts_alternate() -> None:
    assert other_account("nova", "nova") == "nova-alt"
    assert other_account("nova", "nova-alt") == "nova"


def _running(site: Site, fake: FakeEngine) -> None:
    """Every container of ``site``, running in ``fake`` as colla made it."""
    wanted = deployment.desired(site, fake, deployment.DesiredOptions(), {"localhost": fake})
    for spec in wanted.nodes["localhost"].containers:
        fake.add(spec.name, labels=spec.labels(), image_id=spec.image_id)


def test_the_swap_takes_only_the_containers_whose_config_changed(config_dir: Path) -> None:
    site = load_site(config_dir)
    fake = FakeEngine("localhost", every_image=True)
    _running(site, fake)
    history = History(config_dir / "history.sqlite")
    engines = {"localhost": fake}
    rotation = plan_rotation(site, "nova_keystone_password", "n3w")
    after = rotated(site, rotation)
    try:
        compute = reconfigure_plan(after, fake, history, "nova_compute", "c", engines)
        # The hypervisor keeps running (and its guests with it).
        assert compute is not None
        assert [s.name for s in compute.new] == ["nova_compute"]
        assert not compute.overlap and compute.backup is None and not compute.migrate
        assert reconfigure_plan(after, fake, history, "keystone", "c", engines) is None
        assert reconfigure_plan(site, fake, history, "nova_compute", "c", engines) is None
    finally:
        history.close()


def test_a_deploy_waits_for_an_interrupted_rotation(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotation = Rotation("nova_database_password", DATABASE, "o", "n", ("nova",))
    write_journal(config_dir, rotation)
    assert run(["deploy", "-c", str(config_dir)]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "the rotation of nova_database_password was interrupted" in err
    assert "colla rotate-password nova_database_password" in err


def test_another_key_waits_for_an_interrupted_rotation_and_the_same_key_resumes(
    config_dir: Path,
) -> None:
    rotation = Rotation("nova_database_password", DATABASE, "o", "n", ("nova",))
    write_journal(config_dir, rotation)
    with pytest.raises(BadInput, match="finish it first with `colla rotate-password nova_data"):
        refuse_unfinished(config_dir, "glance_database_password")
    assert refuse_unfinished(config_dir, "nova_database_password") == rotation


def test_haproxy_waits_for_a_busy_api_to_answer_its_check(config_dir: Path) -> None:
    # 2 s took an API that was answering a burst of requests out of its backend; as the
    # only server, its clients got 503s (seen in the rotation under load).
    with (config_dir / "globals.yml").open("a") as f:
        f.write("enable_haproxy: true\n")
    site = load_site(config_dir)
    cfg = _rendered(site, "haproxy", "haproxy.cfg")
    assert "    timeout check 10s\n" in cfg


def test_the_message_bus_takes_its_twin_account_by_a_reload(config_dir: Path) -> None:
    site = load_site(config_dir)
    rotation = plan_rotation(site, "rabbitmq_password", "n3w")
    assert (rotation.kind, rotation.service) == (MESSAGING, "rabbitmq")
    assert (rotation.old_account, rotation.new_account) == ("openstack", "openstack-alt")
    assert admit_task(site, rotation, None) is None
    history = History(config_dir / "history.sqlite")
    plan = {s: (c, how) for s, c, how in rotation_plan(site, history, rotation).services}
    # The broker imports its new definitions in place; every service on the bus
    # restarts onto the new account.
    assert plan["rabbitmq"] == (("localhost/rabbitmq",), RELOAD)
    assert {"nova", "nova_compute", "neutron", "neutron_agents"} <= set(plan)
    assert all(how == STOP_FIRST for s, (_, how) in plan.items() if s != "rabbitmq")
    after = rotated(site, rotation).rendered["localhost"]
    files = {f.dest: f.content for c in after.containers for f in c.files}
    assert '"name": "openstack-alt"' in files["/etc/rabbitmq/definitions.json"]
    assert "transport_url = rabbit://openstack-alt:n3w@" in files["/etc/nova/nova.conf"]
    assert retire_command(site, rotation) == (
        "localhost",
        "rabbitmq",
        ["rabbitmqctl", "delete_user", "openstack"],
    )


def test_nova_cell_mappings_hold_no_credentials(config_dir: Path) -> None:
    # A mapping with the URLs themselves broke Nova's calls to cell1 once the message
    # bus account was rotated (ACCESS_REFUSED): each process fills the templates from
    # its own nova.conf instead.
    site = load_site(config_dir)
    task = next(
        t for n in site.rendered.values() for t in n.tasks.get("nova", ()) if t.name == "nova-cells"
    )
    script = _file(task, "colla-nova-cells")
    passwords = site.project.passwords
    for key in ("nova_database_password", "rabbitmq_password"):
        assert passwords[key] not in script
    # Filled as Nova fills them from the services' own nova.conf, the templates give
    # back the URLs the services use (cell1 is the cell database, on the same bus).
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(_file(task, "nova.conf"))
    names: dict[str, str] = {}
    for node in ast.parse(script).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in (
            "_SERVER",
            "CELL0",
            "CELL1",
            "TRANSPORT_URL",
        ):
            exec(compile(ast.Module([node], []), "cells", "exec"), {}, names)
    database, transport = conf["database"]["connection"], conf["DEFAULT"]["transport_url"]
    assert names["CELL1"].format(**_nova_fills(database)) == database
    assert names["TRANSPORT_URL"].format(**_nova_fills(transport)) == transport
    assert names["CELL0"].format(**_nova_fills(database)) == database.replace(
        "/nova?", "/nova_cell0?"
    )


def _nova_fills(url: str) -> dict[str, object]:
    """The values Nova formats a cell mapping template with, from one of its URLs."""
    parsed = urllib.parse.urlparse(url)
    return {
        "scheme": parsed.scheme,
        "username": parsed.username,
        "password": parsed.password,
        "hostname": parsed.hostname,
        "port": parsed.port,
        "path": parsed.path.lstrip("/"),
        "query": parsed.query,
    }
