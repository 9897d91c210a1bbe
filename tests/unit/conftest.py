"""Fixtures for pure tests: a small catalog written to a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from colla import project as project_module
from colla import site as site_module
from colla.catalog import load_services
from colla.config.example import write_example
from colla.config.passwords import generate_passwords

CatalogFactory = Callable[..., Path]

LEAF = """FROM {{{{ parent_image }}}}
{{% block {p}_header %}}{{% endblock %}}
{{% block {p}_packages %}}
RUN install {{{{ packages | join(' ') }}}}
{{% endblock %}}
{{% block {p}_footer %}}{{% endblock %}}
"""


@pytest.fixture
def make_catalog(tmp_path: Path) -> CatalogFactory:
    """Write a catalog: ``images`` maps name → (parent, packages)."""

    def make(
        images: dict[str, tuple[str | None, list[str]]],
        profiles: dict[str, list[str]] | None = None,
    ) -> Path:
        root = tmp_path / "catalog"
        root.mkdir(exist_ok=True)
        data = {
            "images": {
                name: {"parent": parent, "packages": packages, "description": f"the {name}"}
                for name, (parent, packages) in images.items()
            },
            "profiles": profiles or {},
            "users": {"keystone": 42425},
        }
        (root / "images.yaml").write_text(yaml.safe_dump(data))
        for name in images:
            (root / name).mkdir(exist_ok=True)
            (root / name / "Dockerfile.j2").write_text(LEAF.format(p=name.replace("-", "_")))
        return root

    return make


@pytest.fixture
def tree(make_catalog: CatalogFactory) -> Path:
    """base → openstack-base → keystone, glance-api; base → mariadb."""
    return make_catalog(
        {
            "base": (None, ["python3-minimal"]),
            "openstack-base": ("base", ["python3"]),
            "keystone": ("openstack-base", ["keystone"]),
            "glance-api": ("openstack-base", ["glance-api"]),
            "mariadb": ("base", ["mariadb-server"]),
        },
        profiles={"infra": ["mariadb"], "core": ["mariadb", "keystone", "glance-api"]},
    )


@pytest.fixture
def example_config(tmp_path: Path) -> Path:
    """``colla init``'s all-in-one config directory with every password generated."""
    catalog = load_services()
    write_example(tmp_path, catalog.defaults())
    generate_passwords(
        tmp_path / "passwords.yml", catalog.required_passwords(set(catalog.services))
    )
    return tmp_path


@pytest.fixture
def config_dir(example_config: Path) -> Path:
    """The same example config, under the name most unit tests use."""
    return example_config


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every project load, by config directory."""
    seen: list[Path] = []
    real = project_module.load_project

    def counted(config_dir: Path, *args: Any, **kwargs: Any) -> Any:
        seen.append(config_dir)
        return real(config_dir, *args, **kwargs)

    monkeypatch.setattr(site_module, "load_project", counted)
    return seen
