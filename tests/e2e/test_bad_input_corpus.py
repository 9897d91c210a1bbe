"""The bad-input corpus (tests/data/bad_inputs.yaml) against the real engine, with the
suite's cloud running: each case is refused with one line and a non-zero exit, and
neither the engine's containers and volumes nor the config directory change.

The unit tier runs the same cases with the engine unreachable; here the cases that need
an engine (``tier: engine``) run too, and the engine is really there to be changed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from tests.bad_inputs import Case, apply_case, load_cases, make_config_dir, snapshot
from tests.e2e.conftest import engine_state

pytestmark = pytest.mark.e2e

CASES = load_cases()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "config"
    make_config_dir(root)
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_and_nothing_changes(
    case: Case,
    pristine: Path,
    engine: Engine,
    config_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "config"
    shutil.copytree(pristine, work, symlinks=True)
    apply_case(case, work)
    files = snapshot(tmp_path)
    before = engine_state(engine)
    capsys.readouterr()
    status = run(case.argv(work))
    err = capsys.readouterr().err
    assert status != 0
    if case.status is not None:
        assert status == case.status, err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert re.search(case.error, err), err
    assert engine_state(engine) == before
    assert snapshot(tmp_path) == files
