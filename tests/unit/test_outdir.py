"""Output directories: colla replaces only a directory it made, and only its own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.cli.app import run
from colla.errors import BadInput, ExitStatus
from colla.export.output import OutFile, write_tree
from colla.outdir import MARKER, read_marker


@pytest.mark.parametrize("command", ["compose", "k8s"])
def test_export_refuses_a_directory_holding_a_foreign_file(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "important.txt").write_text("keep me")
    # Refused before the engine is asked for anything.
    assert run([command, "-o", str(target), "-c", str(tmp_path / "none")]) == ExitStatus.BAD_INPUT
    err = capsys.readouterr().err
    assert "not empty and not made by colla" in err.replace("\n", " ")
    assert (target / "important.txt").read_text() == "keep me"


def test_a_foreign_file_in_a_tree_colla_made_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"a/one.yml": OutFile(b"1")}, "colla compose")
    (target / "a" / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match=r"holds a/notes.txt, which colla did not write"):
        write_tree(target, {"two.yml": OutFile(b"2")}, "colla compose")
    assert (target / "a" / "notes.txt").read_text() == "mine"
    assert (target / "a" / "one.yml").read_bytes() == b"1"


def test_a_tree_colla_made_is_replaced_cleanly_on_every_run(tmp_path: Path) -> None:
    target = tmp_path / "out"
    tree = {"n1/docker-compose.yml": OutFile(b"1"), "n1/cfg/x.conf": OutFile(b"x")}
    for _ in range(2):
        write_tree(target, tree, "colla compose")
    made = read_marker(target)
    assert made is not None and made.made_by == "colla compose"
    assert sorted(made.files) == sorted(tree)
    write_tree(target, {"n2/docker-compose.yml": OutFile(b"2")}, "colla compose")
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == [
        MARKER,
        "n2",
        "n2/docker-compose.yml",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_empty_directory_is_adopted(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    write_tree(target, {"one.yml": OutFile(b"1")}, "colla k8s")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "one.yml"]


@pytest.mark.parametrize("where", ["/", "home", "."])
def test_a_non_empty_system_or_home_directory_is_refused(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("x")
    monkeypatch.chdir(home)
    target = {"/": Path("/"), "home": home, ".": Path(".")}[where]
    with pytest.raises(BadInput, match="not empty and not made by colla"):
        write_tree(target, {"one.yml": OutFile(b"1")}, "colla compose")
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]


def test_a_marker_naming_paths_outside_is_not_trusted(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"one.yml": OutFile(b"1")}, "colla compose")
    (tmp_path / "victim").write_text("x")
    (target / MARKER).write_text('{"made_by": "colla", "files": ["one.yml", "../victim"]}')
    write_tree(target, {"two.yml": OutFile(b"2")}, "colla compose")
    assert (tmp_path / "victim").read_text() == "x"
