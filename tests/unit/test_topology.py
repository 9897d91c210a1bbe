"""What the host must offer follows from the catalog's ``host_features``, not from
which services colla's Python knows by name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.deploy.topology import topology
from colla.errors import BadInput
from colla.model.services import ServiceCatalog
from colla.project import load_project


def _without_features(catalog: ServiceCatalog) -> ServiceCatalog:
    services = {n: replace(s, host_features=()) for n, s in catalog.services.items()}
    return replace(catalog, services=services)


def test_a_network_agent_needs_its_provider_interface(config_dir: Path) -> None:
    globals_file = config_dir / "globals.yml"
    globals_file.write_text(globals_file.read_text().replace('"colla-ext0"', '"colla-nowhere0"'))
    catalog = load_services()
    project = load_project(config_dir, catalog)
    with pytest.raises(BadInput, match="neutron_external_interface 'colla-nowhere0' does not"):
        topology(project, catalog)
    # The same cloud, its catalog declaring no network agent and no guests: the host is
    # asked for neither, whichever services are enabled.
    bare = _without_features(catalog)
    found = topology(load_project(config_dir, bare), bare)
    assert found.tunnel_address == {}
