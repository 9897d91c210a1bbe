"""Compose files on the real engine: every generated file is accepted by docker-compose.

The round trip (`docker-compose up` of a deployed cloud's files) needs the cloud's data,
so it is an e2e step: tests/e2e/test_compose_cloud.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.cli.app import run
from tests.compose import compose

pytestmark = pytest.mark.docker


def test_every_generated_file_is_accepted_by_dockercompose(
    config_dir: Path, tmp_path: Path
) -> None:
    for options in ([], ["--data-containers"]):
        out = tmp_path / ("data" if options else "named")
        assert run(["compose", "-c", str(config_dir), "-o", str(out), *options]) == 0
        for file in out.glob("*/docker-compose.yml"):
            compose(file.parent, "config", "-q")
