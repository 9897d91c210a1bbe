"""The real image tree on the real engine: labels, users, cache, failure handling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from colla.cli.app import run
from colla.engine import Engine
from colla.errors import ExitStatus
from colla.images.builder import LABEL_PACKAGES, ImageResult, Status
from colla.images.catalog import default_catalog_root
from tests.integration.conftest import TEST_CONFIG, build_core

pytestmark = pytest.mark.docker

CORE = {
    "base",
    "openstack-base",
    "mariadb",
    "memcached",
    "rabbitmq",
    "haproxy",
    "keystone",
    "glance-api",
    "placement-api",
    "client",
    "nova-base",
    "nova-api",
    "nova-conductor",
    "nova-scheduler",
    "nova-novncproxy",
    "nova-compute",
    "neutron-base",
    "neutron-server",
    "neutron-linuxbridge-agent",
    "neutron-dhcp-agent",
    "neutron-l3-agent",
    "neutron-metadata-agent",
    "horizon",
}


def test_base_image_is_labelled_and_small(engine: Engine, base_image: str) -> None:
    info = engine.image(base_image)
    assert info is not None
    assert info.labels["colla.base.suite"] == "bookworm"
    assert info.labels["colla.base.mirror"].startswith("http")
    assert info.labels["colla.base.date"]
    assert info.size < 250_000_000


def test_core_set_builds(core_images: list[ImageResult]) -> None:
    assert {r.name for r in core_images} == CORE
    bad = [
        (r.name, r.reason, r.tail)
        for r in core_images
        if r.status not in (Status.BUILT, Status.CACHED)
    ]
    assert bad == []
    assert [r.name for r in core_images].index("openstack-base") < [
        r.name for r in core_images
    ].index("keystone")


def test_images_carry_labels_with_package_versions(
    engine: Engine, core_images: list[ImageResult]
) -> None:
    keystone = engine.image(TEST_CONFIG.ref("keystone"))
    assert keystone is not None
    assert keystone.labels["colla.image"] == "keystone"
    assert keystone.labels["colla.version"]
    assert len(keystone.labels["colla.template-hash"]) == 16
    assert any(p.startswith("keystone=2:22.") for p in keystone.labels[LABEL_PACKAGES].split())
    glance = engine.image(TEST_CONFIG.ref("glance-api"))
    assert glance is not None
    assert "glance-api=2:25." in glance.labels[LABEL_PACKAGES]


@pytest.mark.parametrize(
    ("image", "user", "uid"),
    [
        ("keystone", "keystone", 42425),
        ("glance-api", "glance", 42415),
        ("placement-api", "placement", 42482),
        ("mariadb", "mysql", 42434),
        ("rabbitmq", "rabbitmq", 42439),
        ("memcached", "memcache", 42457),
        ("haproxy", "haproxy", 42454),
        ("nova-api", "nova", 42436),
        ("nova-compute", "nova", 42436),
        ("neutron-server", "neutron", 42435),
        ("horizon", "horizon", 42420),
    ],
)
def test_service_users_keep_fixed_ids(
    engine: Engine, core_images: list[ImageResult], image: str, user: str, uid: int
) -> None:
    result = engine.run(TEST_CONFIG.ref(image), ["id", user])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"uid={uid}({user}) gid={uid}({user})")


def test_package_scripts_left_no_state(engine: Engine, core_images: list[ImageResult]) -> None:
    checks = {
        "mariadb": 'test -z "$(ls -A /var/lib/mysql)"',
        "keystone": (
            "test ! -e /etc/keystone/keystone.conf && test ! -e /var/lib/keystone/keystone.db"
        ),
        "rabbitmq": "test ! -e /var/lib/rabbitmq/mnesia",
        # The dashboard's secret key comes from passwords.yml, never from an image layer.
        "horizon": "test ! -e /var/lib/openstack-dashboard/secret-key",
    }
    for image, check in checks.items():
        result = engine.run(TEST_CONFIG.ref(image), ["sh", "-c", check])
        assert result.exit_code == 0, f"{image}: {check}: {result.output}"


def test_client_image_has_the_openstack_client(
    engine: Engine, core_images: list[ImageResult]
) -> None:
    result = engine.run(TEST_CONFIG.ref("client"), ["openstack", "--version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("openstack 6.")


def test_services_import_eventlet_without_setuptools(
    engine: Engine, core_images: list[ImageResult]
) -> None:
    # setuptools' distutils hook made every eventlet import load pkg_resources (about
    # 11 MB per process); the images divert it, so that Python's own distutils serves.
    probe = (
        "import sys, eventlet; print(sorted({'setuptools', 'pkg_resources'} & set(sys.modules)))"
    )
    for image in ("neutron-l3-agent", "nova-compute", "glance-api"):
        result = engine.run(TEST_CONFIG.ref(image), ["python3", "-c", probe])
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == "[]", f"{image}: {result.output}"


def test_second_build_is_all_cached(
    engine: Engine, core_images: list[ImageResult], tmp_path: Path
) -> None:
    again = build_core(engine, tmp_path)
    assert {r.name: r.status for r in again} == {name: Status.CACHED for name in CORE}
    assert {r.name: r.image_id for r in again} == {r.name: r.image_id for r in core_images}


def test_images_command_lists_versions(
    core_images: list[ImageResult], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["images", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    mine = [r for r in rows if TEST_CONFIG.ref("keystone") in r["tags"]]
    assert len(mine) == 1
    assert any(p.startswith("keystone=") for p in mine[0]["packages"])


def test_broken_image_fails_its_child_is_skipped_its_sibling_builds(
    engine: Engine,
    core_images: list[ImageResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(default_catalog_root(), catalog)
    index = yaml.safe_load((catalog / "images.yaml").read_text())
    index["images"].update(
        {
            "broken": {"parent": "base", "packages": ["colla-no-such-package"]},
            "broken-child": {"parent": "broken", "packages": []},
            "sibling": {"parent": "base", "packages": []},
        }
    )
    (catalog / "images.yaml").write_text(yaml.safe_dump(index))
    for name in ("broken", "broken-child"):
        (catalog / name).mkdir()
        shutil.copy(catalog / "memcached" / "Dockerfile.j2", catalog / name / "Dockerfile.j2")
    (catalog / "sibling").mkdir()
    (catalog / "sibling" / "Dockerfile.j2").write_text(
        "FROM {{ parent_image }}\nRUN echo sibling > /sibling\n"
    )
    logs = tmp_path / "logs"
    code = run(
        [
            "build",
            "--catalog",
            str(catalog),
            "--namespace",
            "colla-test",
            "--tag",
            "it",
            "--log-dir",
            str(logs),
            "^(base|broken|broken-child|sibling)$",
        ]
    )
    captured = capsys.readouterr()
    assert code == ExitStatus.BUILD_FAILED
    err = " ".join(captured.err.split())
    assert "broken failed" in err
    assert str(logs / "broken.log") in err
    assert "Unable to locate package colla-no-such-package" in err
    assert "1 image(s) failed (broken), 1 skipped" in err
    assert "Traceback" not in captured.err
    assert engine.image(TEST_CONFIG.ref("sibling")) is not None
    assert engine.image(TEST_CONFIG.ref("broken-child")) is None
    assert "Unable to locate package" in (logs / "broken.log").read_text()
