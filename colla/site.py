"""One command's loaded deployment: the project and catalog, read and checked once.

A command loads its ``Site`` at the edge (``load_site``) and passes it down; nothing
below the CLI takes a config directory to load the project again, so every layer sees
the same validated input and a command pays for one load.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from colla.catalog import load_services
from colla.deploy.desired import desired_state, enabled_services
from colla.deploy.prechecks import check_dependencies
from colla.deploy.topology import topology
from colla.model.services import ServiceCatalog
from colla.model.specs import NodeSpecs
from colla.model.topology import Topology
from colla.project import Project, load_project


@dataclass(frozen=True)
class Site:
    """The validated project, the service catalog, and what derives from them alone."""

    project: Project
    catalog: ServiceCatalog

    @property
    def config_dir(self) -> Path:
        """The directory the project was loaded from."""
        return self.project.config_dir

    @cached_property
    def topology(self) -> Topology:
        """Every node's addresses and host needs, resolved once. Lazy, because resolving
        reads this machine's interfaces and refuses bad ones: commands that never
        render (history, prune) must not fail on them."""
        return topology(self.project, self.catalog)

    @cached_property
    def rendered(self) -> dict[str, NodeSpecs]:
        """Every node's specs at the globals' tags (image IDs not pinned), rendered once
        for the command: the refusal of foreign config directories before any engine is
        reached and the plan after it use the same rendering."""
        return desired_state(self.project, self.catalog, self.topology)

    @cached_property
    def enabled(self) -> frozenset[str]:
        """The services the globals enable."""
        return frozenset(enabled_services(self.project, self.catalog))


def load_site(config_dir: Path, inventory: Path | None = None, tls: bool = True) -> Site:
    """Load and check the project of ``config_dir`` (and ``inventory``, given with -i)
    against the service catalog: the one place a command reads its input. ``tls``:
    False only for `colla certs`, which makes the TLS files the others read."""
    catalog = load_services()
    project = load_project(config_dir, catalog, inventory, tls)
    check_dependencies(project, catalog)
    return Site(project, catalog)
