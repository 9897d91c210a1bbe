"""Upgrade and rollback of Glance and of Placement on the real cloud, each with its own
database migration, and the data they serve kept across both.

Runs after test_upgrade_nova (E2E_ORDER). Each test leaves the service at the globals'
tag and healthy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colla.cli.app import run
from colla.engine import Engine
from tests.e2e.conftest import openstack
from tests.e2e.test_core_cloud import PROJECT
from tests.e2e.test_upgrade_nova import _expected, _images

pytestmark = pytest.mark.e2e

TAG = "zed-upgrade"


@pytest.fixture(scope="module")
def api_tag(config_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """glance-api and placement-api under a second tag: one layer on top of each."""
    override = tmp_path_factory.mktemp("apis") / "upgrade.j2"
    override.write_text(
        "".join(
            "{% block " + block + " %}RUN echo colla-upgrade-test > /etc/colla-upgrade"
            "{% endblock %}\n"
            for block in ("glance_api_footer", "placement_api_footer")
        )
    )
    pattern = "^(glance-api|placement-api)$"
    assert run(["build", pattern, "--tag", TAG, "--template-override", str(override)]) == 0
    return TAG


def _history_ops(config_dir: Path, service: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert run(["history", service, "--json", "-c", str(config_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    return [str(r["operation"]) for r in rows]


def test_upgrade_and_roll_back_glance(
    engine: Engine, config_dir: Path, api_tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _images(engine, ("glance_api",))
    assert run(["upgrade", "glance", "--tag", api_tag, "-c", str(config_dir)]) == 0
    assert _images(engine, ("glance_api",)) == _expected(engine, ("glance_api",), api_tag)
    # The image uploaded by test_core_cloud is still there, and its bytes still served.
    image = json.loads(openstack(config_dir, "image", "show", "-f", "json", PROJECT))
    assert image["status"] == "active"
    assert run(["rollback", "glance", "--yes", "-c", str(config_dir)]) == 0
    assert _images(engine, ("glance_api",)) == before
    assert PROJECT in openstack(config_dir, "image", "list", "-f", "value", "-c", "Name")
    assert _history_ops(config_dir, "glance", capsys)[-2:] == ["upgrade", "rollback"]


def test_upgrade_and_roll_back_placement(
    engine: Engine, config_dir: Path, api_tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def providers() -> set[str]:
        listed = openstack(config_dir, "resource", "provider", "list", "-f", "json")
        return {p["uuid"] for p in json.loads(listed)}

    known = providers()
    assert known
    before = _images(engine, ("placement_api",))
    assert run(["upgrade", "placement", "--tag", api_tag, "-c", str(config_dir)]) == 0
    assert _images(engine, ("placement_api",)) == _expected(engine, ("placement_api",), api_tag)
    assert providers() == known
    assert run(["rollback", "placement", "--yes", "-c", str(config_dir)]) == 0
    assert _images(engine, ("placement_api",)) == before
    assert providers() == known
    assert _history_ops(config_dir, "placement", capsys)[-2:] == ["upgrade", "rollback"]
