"""Prechecks' host features: reported for the services that declare them, in order."""

from __future__ import annotations

from pathlib import Path

from colla.catalog import load_services
from colla.deploy.prechecks import check_host_features
from colla.model.topology import Topology
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1", virt_type="qemu")


def _features(config_dir: Path, extra: str = "") -> list[str]:
    catalog = load_services()
    globals_path = config_dir / "globals.yml"
    globals_path.write_text(globals_path.read_text() + extra)
    project = load_project(config_dir, catalog)
    return [c.name for c in check_host_features(project, catalog, TOPOLOGY)]


def test_compute_and_network_services_report_their_host_features(config_dir: Path) -> None:
    assert _features(config_dir) == ["virt type", "neutron agent", "security groups"]


def test_a_disabled_service_reports_none(config_dir: Path) -> None:
    # nova_compute, which declares virt_type, is part of nova and goes with it.
    assert _features(config_dir, "enable_nova: false\n") == ["neutron agent", "security groups"]
