"""colla-start: config.json validation, file installation, strategies, exec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from colla import start
from colla.start import StartError, parse_config

ME = str(os.getuid())


def _good(**extra: Any) -> dict[str, Any]:
    return {
        "command": "/bin/echo hello",
        "config_files": [
            {"source": "/a", "dest": "/b", "owner": "root", "perm": "0600"},
        ],
        **extra,
    }


def test_parse_good_config() -> None:
    config = parse_config(
        _good(
            permissions=[{"path": "/v", "owner": "root", "recurse": True}],
            wait_for=["127.0.0.1:3306"],
        )
    )
    assert config.wait_for == ("127.0.0.1:3306",)
    assert config.command == ("/bin/echo", "hello")
    assert config.config_files[0].perm == 0o600
    assert config.config_files[0].optional is False
    assert config.permissions[0].recurse is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level must be an object"),
        ({"config_files": []}, "'command' must be a string or a list"),
        ({"command": ""}, "'command' is empty"),
        ({"command": "x", "colour": 1}, r"unknown key\(s\) colour"),
        (
            _good(config_files=[{"dest": "/b", "owner": "root", "perm": "0600"}]),
            "missing key 'source'",
        ),
        (
            _good(config_files=[{"source": 1, "dest": "/b", "owner": "r", "perm": "0600"}]),
            "'source' must be a str",
        ),
        (
            _good(config_files=[{"source": "/a", "dest": "/b", "owner": "r", "perm": "0999"}]),
            "not an octal mode",
        ),
        (
            _good(config_files=[{"source": "/a", "dest": "/b", "owner": "r", "perm": 600}]),
            "'perm' must be a str",
        ),
        (
            _good(
                config_files=[
                    {"source": "/a", "dest": "/b", "owner": "r", "perm": "0600", "optional": "no"}
                ]
            ),
            "'optional' must be true or false",
        ),
        (_good(config_files={}), "'config_files' must be a list"),
        (_good(permissions=[{"owner": "root"}]), r"permissions\[0\]: missing key 'path'"),
        (_good(wait_for="db:3306"), "'wait_for' must be a list of HOST:PORT"),
    ],
)
def test_parse_rejects_bad_configs(data: Any, message: str) -> None:
    with pytest.raises(StartError, match=message):
        parse_config(data)


def test_load_config_reports_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(StartError, match="is missing"):
        start.load_config(str(tmp_path / "config.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"command": "x",\n  oops}')
    with pytest.raises(StartError, match="malformed JSON at line 2"):
        start.load_config(str(bad))


def _config(tmp_path: Path, entries: list[dict[str, Any]]) -> start.StartConfig:
    return parse_config({"command": "true", "config_files": entries})


def test_install_files_sets_mode_and_replaces(tmp_path: Path) -> None:
    (tmp_path / "src.conf").write_text("new")
    dest = tmp_path / "etc" / "svc" / "svc.conf"
    dest.parent.mkdir(parents=True)
    dest.write_text("old")
    config = _config(
        tmp_path,
        [{"source": str(tmp_path / "src.conf"), "dest": str(dest), "owner": ME, "perm": "0640"}],
    )
    assert start.install_files(config) == [str(dest)]
    assert dest.read_text() == "new"
    assert dest.stat().st_mode & 0o7777 == 0o640


def test_install_directories_and_globs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.conf").write_text("a")
    (src / "sub" / "b.conf").write_text("b")
    config = _config(
        tmp_path,
        [
            {"source": str(src), "dest": str(tmp_path / "tree"), "owner": ME, "perm": "0600"},
            {
                "source": str(src / "*.conf"),
                "dest": str(tmp_path / "glob"),
                "owner": ME,
                "perm": "0644",
            },
        ],
    )
    start.install_files(config)
    assert (tmp_path / "tree" / "sub" / "b.conf").read_text() == "b"
    assert (tmp_path / "tree" / "sub").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "glob" / "a.conf").stat().st_mode & 0o777 == 0o644


def test_missing_source_fails_unless_optional(tmp_path: Path) -> None:
    entry = {
        "source": str(tmp_path / "nope"),
        "dest": str(tmp_path / "d"),
        "owner": ME,
        "perm": "0600",
    }
    with pytest.raises(StartError, match="nope is missing"):
        start.install_files(_config(tmp_path, [entry]))
    assert start.install_files(_config(tmp_path, [{**entry, "optional": True}])) == []


def test_unknown_owner(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("x")
    entry = {
        "source": str(tmp_path / "s"),
        "dest": str(tmp_path / "d"),
        "owner": "nobody-here",
        "perm": "0600",
    }
    with pytest.raises(StartError, match="no user 'nobody-here'"):
        start.install_files(_config(tmp_path, [entry]))


def test_strategy_from_env() -> None:
    assert start.strategy_from_env({}) == "COPY_ALWAYS"
    assert start.strategy_from_env({"COLLA_CONFIG_STRATEGY": "COPY_ONCE"}) == "COPY_ONCE"
    with pytest.raises(StartError, match="expected one of COPY_ALWAYS, COPY_ONCE"):
        start.strategy_from_env({"COLLA_CONFIG_STRATEGY": "SOMETIMES"})


def _run_start(tmp_path: Path, config: Any, **env: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    environment = {
        "PATH": os.environ["PATH"],
        "COLLA_CONFIG": str(path),
        "COLLA_MARKER_PATH": str(tmp_path / "marker"),
        "COLLA_EXTEND_START": str(tmp_path / "no-hook"),
        **env,
    }
    return subprocess.run(
        [sys.executable, start.__file__],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_copy_once_installs_only_the_first_time(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("one")
    dest = tmp_path / "d"
    config = {
        "command": ["cat", str(dest)],
        "config_files": [
            {"source": str(tmp_path / "s"), "dest": str(dest), "owner": ME, "perm": "0600"}
        ],
    }
    assert _run_start(tmp_path, config, COLLA_CONFIG_STRATEGY="COPY_ONCE").stdout == "one"
    (tmp_path / "s").write_text("two")
    assert _run_start(tmp_path, config, COLLA_CONFIG_STRATEGY="COPY_ONCE").stdout == "one"
    assert _run_start(tmp_path, config).stdout == "two"


def test_exec_replaces_the_process_and_bad_config_exits_78(tmp_path: Path) -> None:
    ok = _run_start(tmp_path, {"command": ["sh", "-c", "echo $$ ran"]})
    assert ok.returncode == 0 and ok.stdout.endswith(" ran\n")
    bad = _run_start(tmp_path, "{not json")
    assert bad.returncode == start.EX_CONFIG
    assert bad.stderr.startswith("colla-start: ") and "malformed JSON" in bad.stderr
    assert bad.stderr.count("\n") == 1
