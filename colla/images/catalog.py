"""The image catalog: which images exist, their parents, packages and profiles."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic

from colla.errors import BadInput
from colla.yamlfile import describe_validation_error, load_yaml_mapping

TEMPLATE_NAME = "Dockerfile.j2"


class _ImageData(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    parent: str | None
    description: str = ""
    packages: tuple[str, ...] = ()
    user: str | None = None


class _CatalogData(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    images: dict[str, _ImageData]
    profiles: dict[str, tuple[str, ...]] = {}
    users: dict[str, int] = {}


@dataclass(frozen=True)
class ImageDef:
    """One image of the tree."""

    name: str
    parent: str | None
    description: str
    packages: tuple[str, ...]
    user: str | None
    directory: Path

    @property
    def block_prefix(self) -> str:
        """Jinja block names of this image start with this (``glance-api`` → ``glance_api``)."""
        return self.name.replace("-", "_")

    @property
    def template(self) -> str:
        """The template's name for the Jinja loader rooted at the catalog directory."""
        return f"{self.name}/{TEMPLATE_NAME}"


@dataclass(frozen=True)
class Catalog:
    """The whole image tree, as loaded and checked from ``images.yaml``."""

    root: Path
    images: dict[str, ImageDef]
    profiles: dict[str, tuple[str, ...]]
    users: dict[str, int]

    def __getitem__(self, name: str) -> ImageDef:
        return self.images[name]

    def children(self, name: str) -> list[str]:
        """Images whose parent is ``name``."""
        return sorted(i.name for i in self.images.values() if i.parent == name)

    def descendants(self, name: str) -> set[str]:
        """Every image below ``name`` in the tree."""
        found: set[str] = set()
        stack = self.children(name)
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(self.children(child))
        return found

    def ancestors(self, name: str) -> list[str]:
        """Parents of ``name``, nearest first (stops at a cycle; graph.order reports it)."""
        chain: list[str] = []
        parent = self.images[name].parent
        while parent is not None and parent not in chain and parent != name:
            chain.append(parent)
            parent = self.images[parent].parent
        return chain


def default_catalog_root() -> Path:
    """The catalog shipped inside the colla package."""
    return Path(str(resources.files("colla.catalog") / "images"))


def load_catalog(root: Path | None = None) -> Catalog:
    """Load and check ``images.yaml`` and the image directories under ``root``."""
    root = root or default_catalog_root()
    index = root / "images.yaml"
    raw: dict[str, Any] = load_yaml_mapping(index)
    try:
        data = _CatalogData.model_validate(raw)
    except pydantic.ValidationError as e:
        raise BadInput(describe_validation_error(index, e)) from None
    images = {}
    for name, item in data.images.items():
        directory = root / name
        if not (directory / TEMPLATE_NAME).is_file():
            raise BadInput(f"{index}: image '{name}' has no {name}/{TEMPLATE_NAME}")
        if item.parent is not None and item.parent not in data.images:
            raise BadInput(f"{index}: image '{name}' has unknown parent '{item.parent}'")
        images[name] = ImageDef(
            name=name,
            parent=item.parent,
            description=item.description,
            packages=item.packages,
            user=item.user,
            directory=directory,
        )
    for profile, members in data.profiles.items():
        for member in members:
            if member not in images:
                raise BadInput(f"{index}: profile '{profile}' names unknown image '{member}'")
    return Catalog(root=root, images=images, profiles=dict(data.profiles), users=dict(data.users))
