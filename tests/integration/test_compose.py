"""Exports through the real CLI: every Compose file is accepted by docker-compose, and
the Kubernetes manifests by Kubernetes' schemas.

The round trip (`docker-compose up` of a deployed cloud's files) needs the cloud's data,
so it is an e2e step: tests/e2e/test_compose_cloud.py.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

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


def test_the_k8s_command_writes_manifests_kubernetes_accepts(
    config_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "k8s"
    assert run(["k8s", "-c", str(config_dir), "-o", str(out)]) == 0
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    version = kubernetes_validate.latest_version()
    assert kustomization["resources"]
    for name in kustomization["resources"]:
        for obj in yaml.safe_load_all((out / name).read_text()):
            kubernetes_validate.validate(obj, version, strict=True)
