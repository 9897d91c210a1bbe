"""Build settings: defaults, an optional YAML file, then command-line options."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic

from colla.config.names import Tag, tag_problem
from colla.errors import BadInput
from colla.images.catalog import Catalog
from colla.textfile import quote
from colla.yamlfile import describe_validation_error, load_yaml_mapping

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEFAULT_BASE_IMAGE = "colla/debian:bookworm"
_PACKAGE_KEY = re.compile(r"^(?P<image>[a-z0-9_]+)_packages_(?P<op>append|remove)$")
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]+$")
_NAME = r"^[a-z0-9]+(?:[._\-/][a-z0-9]+)*$"


class _FileSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    namespace: str | None = pydantic.Field(default=None, pattern=_NAME)
    tag: Tag | None = None
    base_image: str | None = None
    debian_mirror: str | None = pydantic.Field(default=None, pattern=r"^https?://\S+$")
    debian_security_mirror: str | None = pydantic.Field(default=None, pattern=r"^https?://\S+$")
    threads: int | None = pydantic.Field(default=None, ge=1, le=16)


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build needs besides the catalog and the engine."""

    namespace: str = "colla"
    tag: str = "zed"
    base_image: str = DEFAULT_BASE_IMAGE
    debian_mirror: str = DEFAULT_MIRROR
    debian_security_mirror: str = DEFAULT_SECURITY_MIRROR
    threads: int = 2
    packages_append: dict[str, tuple[str, ...]] = field(default_factory=dict)
    packages_remove: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def ref(self, image: str) -> str:
        """The full name an image is tagged with, e.g. ``colla/keystone:zed``."""
        return f"{self.namespace}/{image}:{self.tag}"

    def packages(self, catalog: Catalog, image: str) -> tuple[str, ...]:
        """The image's package list after the operator's removals and additions."""
        removed = set(self.packages_remove.get(image, ()))
        kept = [p for p in catalog[image].packages if p not in removed]
        kept.extend(p for p in self.packages_append.get(image, ()) if p not in kept)
        return tuple(kept)

    def with_options(self, **options: Any) -> BuildConfig:
        """A copy with the command-line options that were given (None means not given)."""
        given = {k: v for k, v in options.items() if v is not None}
        if "namespace" in given and not re.match(_NAME, given["namespace"]):
            raise BadInput(f"--namespace {given['namespace']!r} is not a valid image namespace")
        problem = tag_problem(given["tag"]) if "tag" in given else None
        if problem:
            raise BadInput(f"--tag {quote(given['tag'])}: {problem}")
        return replace(self, **given)


def load_build_config(path: Path | None, catalog: Catalog) -> BuildConfig:
    """Read a build settings file (None: the defaults), validating every key."""
    if path is None:
        return BuildConfig()
    raw = load_yaml_mapping(path)
    plain: dict[str, Any] = {}
    append: dict[str, tuple[str, ...]] = {}
    remove: dict[str, tuple[str, ...]] = {}
    by_prefix = {image.block_prefix: image.name for image in catalog.images.values()}
    for key, value in raw.items():
        match = _PACKAGE_KEY.match(str(key))
        if match is None:
            plain[str(key)] = value
            continue
        image = by_prefix.get(match["image"])
        if image is None:
            raise BadInput(f"{path}: key '{key}' names unknown image '{match['image']}'")
        packages = _package_list(path, str(key), value)
        if match["op"] == "append":
            append[image] = packages
        else:
            missing = [p for p in packages if p not in catalog[image].packages]
            if missing:
                raise BadInput(
                    f"{path}: key '{key}': {', '.join(missing)} not in {image}'s packages "
                    f"({', '.join(catalog[image].packages)})"
                )
            remove[image] = packages
    try:
        settings = _FileSettings.model_validate(plain)
    except pydantic.ValidationError as e:
        raise BadInput(describe_validation_error(path, e)) from None
    config = BuildConfig(packages_append=append, packages_remove=remove)
    return config.with_options(**settings.model_dump())


def _package_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{path}: key '{key}' must be a list of package names")
    bad = [v for v in value if not _PACKAGE_NAME.match(v)]
    if bad:
        raise BadInput(f"{path}: key '{key}': {bad[0]!r} is not a Debian package name")
    return tuple(value)
