"""Dockerfile rendering: catalog templates, operator override blocks, build contexts."""

from __future__ import annotations

import difflib
import hashlib
import io
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from jinja2 import nodes

from colla import __version__
from colla.errors import BadInput
from colla.images.catalog import TEMPLATE_NAME, Catalog
from colla.images.config import BuildConfig
from colla.textfile import read_text

START_SCRIPT = "colla-start"
# Stands for the parent's reference while an image's identity is computed: the identity
# must not depend on the namespace or tag an image is built under (issue 13: every
# namespace rebuilt every image below openstack-base).
_PARENT_PLACEHOLDER = "colla-parent-image-placeholder"


@dataclass(frozen=True)
class Override:
    """An operator's override file: Jinja blocks that replace the catalog's."""

    path: Path
    source: str


@dataclass(frozen=True)
class RenderedImage:
    """A Dockerfile and the files it may COPY: everything one build needs."""

    name: str
    dockerfile: str
    files: tuple[tuple[str, bytes], ...]
    packages: tuple[str, ...]
    # A digest of the build context with the parent's reference replaced by the parent's
    # own identity: equal content under another namespace or tag gives an equal hash.
    template_hash: str = ""

    def context_tar(self) -> bytes:
        """The build context as a tar, with fixed metadata so it is reproducible."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, content in (("Dockerfile", self.dockerfile.encode()), *self.files):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                # The legacy builder keeps a COPY'd file's mode; it has no --chmod.
                info.mode = 0o755 if name == START_SCRIPT else 0o644
                tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()


def load_overrides(paths: Sequence[Path]) -> list[Override]:
    """Read override files; a missing file is bad input."""
    # read_text: a non-UTF-8 override is one line naming its line, not a traceback.
    return [Override(path, read_text(path)) for path in paths]


def start_script() -> bytes:
    """The source of colla-start, copied into the base image."""
    return (resources.files("colla") / "start.py").read_bytes()


class Renderer:
    """Renders the catalog's Dockerfile templates under a BuildConfig and overrides."""

    def __init__(
        self, catalog: Catalog, config: BuildConfig, overrides: Sequence[Override] = ()
    ) -> None:
        self._catalog = catalog
        self._config = config
        self._overrides = list(overrides)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(catalog.root)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self._check_overrides()
        self._identities: dict[str, str] = {}

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = e.filename or name
            raise BadInput(f"{where}:{e.lineno}: template syntax error: {e.message}") from None
        except jinja2.TemplateNotFound as e:
            raise BadInput(f"{self._catalog.root}: template {e.name} not found") from None

    def known_blocks(self) -> set[str]:
        """Every block name of every image template: what an override may replace."""
        blocks: set[str] = set()
        for image in self._catalog.images.values():
            blocks.update(self._template(image.template).blocks)
        return blocks

    def _check_overrides(self) -> None:
        known = self.known_blocks()
        for override in self._overrides:
            try:
                tree = self._env.parse(override.source, filename=str(override.path))
            except jinja2.TemplateSyntaxError as e:
                raise BadInput(
                    f"{override.path}:{e.lineno}: template syntax error: {e.message}"
                ) from None
            for block in tree.find_all(nodes.Block):
                if block.name not in known:
                    close = difflib.get_close_matches(block.name, sorted(known), n=3)
                    hint = f"; did you mean {', '.join(close)}?" if close else ""
                    raise BadInput(
                        f"{override.path}:{block.lineno}: block '{block.name}' exists in no "
                        f"image template{hint}"
                    )

    def render(self, name: str) -> RenderedImage:
        """Render one image's Dockerfile with every override applied, in order."""
        image = self._catalog[name]
        config = self._config
        parent = config.base_image if image.parent is None else config.ref(image.parent)
        text = self._text(name)
        own = sorted(
            (path.name, path.read_bytes())
            for path in image.directory.iterdir()
            if path.is_file() and path.suffix != ".j2"
        )
        files: tuple[tuple[str, bytes], ...] = tuple(own)
        if not self._catalog.children(name):
            # colla-start goes last, and only into images that nothing builds on, so that
            # an edit to it rebuilds one layer per image instead of the whole tree.
            text += f"COPY {START_SCRIPT} /usr/local/bin/{START_SCRIPT}\n"
            files = (*own, (START_SCRIPT, start_script()))
        identity = self._identity_of(name, text, files)
        return RenderedImage(
            name=name,
            dockerfile=text.replace(_PARENT_PLACEHOLDER, parent),
            files=files,
            packages=config.packages(self._catalog, name),
            template_hash=identity,
        )

    def _identity_of(self, name: str, text: str, files: tuple[tuple[str, bytes], ...]) -> str:
        if name in self._identities:
            return self._identities[name]
        image = self._catalog[name]
        if image.parent is None:
            parent = self._config.base_image
        else:
            parent = f"{image.parent}@{self.render(image.parent).template_hash}"
        digest = hashlib.sha256(text.replace(_PARENT_PLACEHOLDER, parent).encode())
        for file_name, content in files:
            digest.update(b"\0" + file_name.encode() + b"\0" + content)
        self._identities[name] = digest.hexdigest()[:16]
        return self._identities[name]

    def _text(self, name: str) -> str:
        """The Dockerfile, tidied, with the parent's reference still a placeholder."""
        image = self._catalog[name]
        config = self._config
        parent = config.base_image if image.parent is None else _PARENT_PLACEHOLDER
        packages = config.packages(self._catalog, name)
        context = {
            "image_name": name,
            "parent_image": parent,
            "packages": packages,
            "user": image.user,
            "users": self._catalog.users,
            "namespace": config.namespace,
            "tag": config.tag,
            "debian_mirror": config.debian_mirror,
            "debian_security_mirror": config.debian_security_mirror,
            "colla_version": __version__,
        }
        template_name = image.template
        templates: dict[str, str] = {}
        for i, override in enumerate(self._overrides):
            key = f"override-{i}:{override.path}"
            templates[key] = _extending(override.source, template_name)
            template_name = key
        env = self._env
        if templates:
            env = self._env.overlay(
                loader=jinja2.ChoiceLoader(
                    [jinja2.DictLoader(templates), self._env.loader]  # type: ignore[list-item]
                )
            )
        try:
            text = env.get_template(template_name).render(
                {**context, "parent_template": image.template}
            )
        except jinja2.TemplateSyntaxError as e:
            raise BadInput(
                f"{e.filename or e.name}:{e.lineno}: template syntax error: {e.message}"
            ) from None
        except jinja2.UndefinedError as e:
            raise BadInput(f"{image.directory / TEMPLATE_NAME}: {e.message}") from None
        return _tidy(text)


_EXTENDS = re.compile(r"\{%-?\s*extends\s+parent_template\s*-?%\}")


def _extending(source: str, parent: str) -> str:
    """Make an override extend ``parent``: Kolla-style files say ``parent_template``."""
    target = '{% extends "' + parent + '" %}'
    if _EXTENDS.search(source):
        return _EXTENDS.sub(target, source, count=1)
    # Same line as the operator's first line, so error line numbers match the file.
    return target + source


def _tidy(text: str) -> str:
    """Collapse runs of blank lines that empty blocks leave behind."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
