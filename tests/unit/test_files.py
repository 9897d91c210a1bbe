"""Files that are not what they seem, beyond the corpus: what is accepted, what colla
writes when the disk says no, and the CLI's last line of defence."""

from __future__ import annotations

import errno
import inspect
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.cli import deploy as deploy_cli
from colla.cli.app import app, run
from colla.cli.options import CONFIG_DIR
from colla.config.inventory import load_inventory
from colla.config.names import interface_problem, tag_problem
from colla.deploy.desired import desired_state
from colla.deploy.executor import container_request
from colla.deploy.nodefiles import write_config_dir
from colla.deploy.topology import topology
from colla.errors import BadInput, CollaError, ExitStatus
from colla.history.store import History
from colla.lock import locked
from colla.model.specs import RenderedFile
from colla.project import absolute, load_project
from colla.yamlfile import load_yaml_mapping
from tests.bad_inputs import make_config_dir, snapshot


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    make_config_dir(root)
    return root


# --- relative config directories ---------------------------------------------------


def test_a_relative_config_dir_is_absolute_in_the_project_and_its_binds(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config_dir.parent)
    catalog = load_services()
    project = load_project(Path("config"), catalog)
    assert project.config_dir == config_dir
    nodes = desired_state(project, catalog, topology(project, catalog))
    binds = [
        source for spec in nodes["localhost"].containers for source in container_request(spec).binds
    ]
    # Docker reads a bind source without a '/' as a volume's name.
    assert binds and all(Path(b).is_absolute() and b.startswith(str(config_dir)) for b in binds)


def test_plan_gets_an_absolute_config_dir_from_a_relative_option(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config_dir)
    seen: list[Path] = []

    def prepared(given: Path, *args: object) -> None:
        seen.append(given)
        raise BadInput("stop here")

    monkeypatch.setattr(deploy_cli, "_prepared", prepared)
    assert run(["plan", "-c", "."]) == ExitStatus.BAD_INPUT
    assert seen == [config_dir]


def test_every_command_makes_its_config_dir_absolute() -> None:
    typers = [app, *(group.typer_instance for group in app.registered_groups)]
    commands = [c for t in typers if t is not None for c in t.registered_commands]
    taking = [
        c.callback
        for c in commands
        if c.callback is not None and "config_dir" in inspect.signature(c.callback).parameters
    ]
    assert len(taking) >= 10
    for callback in taking:
        default = inspect.signature(callback).parameters["config_dir"].default
        assert default is CONFIG_DIR, callback.__name__
    assert CONFIG_DIR.callback is absolute


# --- inventories and YAML that are accepted ------------------------------------------


def test_a_yaml_inventory_without_an_extension_is_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "inventory"
    path.write_text("---\nall:\n  children:\n    control:\n      hosts:\n        c1:\n")
    assert load_inventory(path).groups["control"] == ("c1",)


def test_an_ini_inventory_without_an_extension_stays_ini(tmp_path: Path) -> None:
    path = tmp_path / "multinode"
    path.write_text("# nodes\n[control]\nc1 ansible_host=10.0.0.1\n[compute]\nn[1:3]\n")
    inventory = load_inventory(path)
    assert inventory.groups["compute"] == ("n1", "n2", "n3")
    assert inventory.hosts["c1"].address == "10.0.0.1"


@pytest.mark.parametrize("name", ["inventory", "inventory.yml"])
def test_a_byte_order_mark_is_dropped(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    text = "[control]\nc1\n" if name == "inventory" else "control:\n  hosts:\n    c1:\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_inventory(path).groups["control"] == ("c1",)


def test_a_range_of_exactly_the_limit_expands(tmp_path: Path) -> None:
    path = tmp_path / "inventory"
    path.write_text("[control]\nnode[0001:1000]\n")
    assert len(load_inventory(path).hosts) == 1000


def test_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("base: &b {a: 1, b: 2}\nmine:\n  <<: *b\n  b: 3\nsame: *b\n")
    data = load_yaml_mapping(path)
    assert data["mine"] == {"a": 1, "b": 3}
    assert data["same"] == {"a": 1, "b": 2}


@pytest.mark.parametrize("name", ["eth0", "enp0s31f6", "br-ex", "eth0.100", "a" * 15, "veth_x@1"])
def test_interface_names_linux_accepts(name: str) -> None:
    assert interface_problem(name) is None


@pytest.mark.parametrize("tag", ["zed", "2023.1", "zed-20240101", "_x", "a" * 128])
def test_docker_tags_accepted(tag: str) -> None:
    assert tag_problem(tag) is None


def test_build_tag_option_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["build", "--tag", "zed:1", "--list"]) == ExitStatus.BAD_INPUT
    assert "--tag 'zed:1': an image tag is" in capsys.readouterr().err


# --- writing config ------------------------------------------------------------------

FILES = (RenderedFile("a.conf", "/etc/a.conf", "root", "0600", "new a\n"),)


def _old_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keystone"
    directory.mkdir(mode=0o770)
    (directory / "a.conf").write_text("old a\n")
    return directory


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failed_write_keeps_the_old_file_and_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    directory = _old_dir(tmp_path)

    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CollaError) as info:
        write_config_dir(directory, FILES)
    assert str(info.value) == (
        f"{directory / 'a.conf'}: cannot write a container's config: {os.strerror(code)}"
    )
    assert (directory / "a.conf").read_text() == "old a\n"
    assert [p.name for p in directory.iterdir()] == ["a.conf"]  # no temporary file left


def test_a_read_only_directory_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _old_dir(tmp_path)

    def mkstemp(**kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(directory))

    monkeypatch.setattr("tempfile.mkstemp", mkstemp)
    with pytest.raises(CollaError, match="cannot write a container's config: Permission denied"):
        write_config_dir(directory, FILES)
    assert (directory / "a.conf").read_text() == "old a\n"


def test_a_symlinked_config_dir_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "etc"
    target.mkdir()
    (target / "passwd").write_text("root:x:0:0\n")
    link = tmp_path / "keystone"
    link.symlink_to(target)
    before = snapshot(tmp_path)
    with pytest.raises(BadInput, match="keystone: is a symbolic link"):
        write_config_dir(link, FILES)
    assert snapshot(tmp_path) == before


def test_a_read_only_config_dir_cannot_take_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "open", refuse)
    lock = locked(tmp_path)
    with pytest.raises(CollaError, match=r"lock: cannot take the deployment's lock: Read-only"):
        lock.__enter__()


# --- the history file ---------------------------------------------------------------


def test_a_foreign_sqlite_database_is_refused_before_its_mode_changes(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    path.chmod(0o644)
    before = snapshot(tmp_path)
    with pytest.raises(BadInput, match=r"app\.db \(colla_history_path\): .* not colla's history"):
        History(path)
    assert snapshot(tmp_path) == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("content", [None, b""])
def test_colla_history_absent_empty_or_its_own_opens(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "history.sqlite"
    if content is not None:
        path.write_bytes(content)
    History(path).close()
    again = History(path)  # colla's own schema, written by the first
    again.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- the CLI's last line of defence --------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        MemoryError(),
        OSError(errno.ENOSPC, "No space left on device"),
        ValueError("a\nb"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unforeseen_exception_is_one_line_and_a_status(
    error: Exception,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def prepared(*args: object) -> None:
        raise error

    monkeypatch.setattr(deploy_cli, "_prepared", prepared)
    assert run(["plan", "-c", str(config_dir)]) == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"colla: error: {type(error).__name__}")
    assert "Traceback" not in err and "--debug" in err

    assert run(["--debug", "plan", "-c", str(config_dir)]) == ExitStatus.ERROR
    assert "Traceback" in capsys.readouterr().err


def test_a_template_override_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    override = tmp_path / "o.j2"
    override.write_bytes(b"{% block keystone_footer %}\nRUN echo caf\xe9\n{% endblock %}\n")
    target = tmp_path / "out"
    args = ["build", "--template-only", str(target), "--template-override", str(override)]
    assert run(args) == ExitStatus.BAD_INPUT
    err = capsys.readouterr().err
    assert err.splitlines() == [f"colla: error: {override}:2: not UTF-8 text (byte 0xe9)"]
    assert not target.exists()
