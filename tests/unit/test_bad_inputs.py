"""The bad-input corpus through the CLI: one line, a non-zero exit, nothing changed.

Every case runs ``colla <args> -c <dir>`` in-process with the engine unreachable: colla
must refuse these inputs while loading them, before it contacts any engine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import DockerEngine, Engine
from tests.bad_inputs import Case, apply_case, load_cases, make_config_dir, snapshot

CASES = [c for c in load_cases() if c.tier == "unit"]


class EngineContacted(Exception):
    """Raised instead of connecting: the input should have been refused before."""


def _no_engine(*args: object, **kwargs: object) -> Engine:
    raise EngineContacted("the unit corpus must fail before an engine is contacted")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "config"
    make_config_dir(root)
    return root


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 45


def test_the_pristine_directory_is_accepted(pristine: Path) -> None:
    # Without this, every case could be refused for a reason of the base directory's own.
    from colla.site import load_site

    assert load_site(pristine).config_dir == pristine


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(
    case: Case,
    pristine: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(pristine, config_dir, symlinks=True)
    apply_case(case, config_dir)
    before = snapshot(tmp_path)
    monkeypatch.setattr(DockerEngine, "connect", _no_engine)
    capsys.readouterr()

    status = run(case.argv(config_dir))

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status != 0, captured.out
    if case.status is not None:
        assert status == case.status, captured.err
    assert "Traceback" not in captured.err
    assert len(lines) == 1, captured.err
    assert re.search(case.error, lines[0]), lines[0]
    assert snapshot(tmp_path) == before
