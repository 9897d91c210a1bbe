"""The CLI in-process: listing, template-only output, one-line errors."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.cli.operate import logs, parse_tail
from colla.errors import ExitStatus


def test_list_prints_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["build", "--list", "--profile", "core"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("base")
    assert "    keystone" in text


def test_template_only_writes_dockerfiles(tmp_path: Path) -> None:
    override = tmp_path / "o.j2"
    override.write_text("{% block keystone_footer %}RUN echo custom{% endblock %}")
    target = tmp_path / "out"
    code = run(
        ["build", "keystone", "--template-only", str(target), "--template-override", str(override)]
    )
    assert code == 0
    assert sorted(p.name for p in target.iterdir()) == ["base", "keystone", "openstack-base"]
    assert "RUN echo custom" in (target / "keystone" / "Dockerfile").read_text()
    assert (target / "keystone" / "colla-start").is_file()
    assert not (target / "base" / "colla-start").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "kestone", "--list"], "no image matches 'kestone'; did you mean keystone?"),
        (["build", "--profile", "nope", "--list"], "unknown profile 'nope'"),
        (
            ["build", "--namespace", "Bad Name", "--list"],
            "--namespace 'Bad Name' is not a valid image namespace",
        ),
    ],
)
def test_bad_input_is_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == ExitStatus.BAD_INPUT
    err = capsys.readouterr().err
    assert message in err.replace("\n", " ")
    assert "Traceback" not in err


def test_unknown_override_block_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    override = tmp_path / "o.j2"
    override.write_text("{% block nope %}{% endblock %}")
    target = tmp_path / "out"
    code = run(["build", "--template-only", str(target), "--template-override", str(override)])
    assert code == ExitStatus.BAD_INPUT
    assert "block 'nope' exists in no image template" in capsys.readouterr().err
    assert not target.exists()


def test_logs_tail_is_a_number_of_lines_or_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_tail("all") == "all"
    # Docker's client reads the whole log for the string "200": it must be an int.
    assert parse_tail("200") == 200
    assert run(["logs", "keystone", "--tail", "lots", "-c", str(tmp_path)]) == ExitStatus.BAD_INPUT
    assert "--tail 'lots': expected a number of lines or 'all'" in capsys.readouterr().err


def test_logs_reads_a_bounded_tail_by_default() -> None:
    default = inspect.signature(logs).parameters["tail"].default
    assert parse_tail(default.default) == 200


def test_the_consoles_print_emoji_codes_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    # An operator's value such as a tag or path holding ':x:' is printed as given.
    from colla.cli.console import err, out

    out.print("tag zed:x:1 :thumbs_up:")
    err.print("path /etc/:x:/colla")
    captured = capsys.readouterr()
    assert "tag zed:x:1 :thumbs_up:" in captured.out
    assert "path /etc/:x:/colla" in captured.err
