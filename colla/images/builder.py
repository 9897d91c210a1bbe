"""The builder: images parents-first, N at a time, cached, logged, labelled."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from colla import __version__
from colla.engine import BuildRequest, Engine
from colla.errors import CollaError
from colla.images import graph
from colla.images.base import split_ref
from colla.images.catalog import Catalog
from colla.images.config import BuildConfig
from colla.images.render import RenderedImage, Renderer
from colla.ordered import run_in_order

TAIL_LINES = 12
LABEL_IMAGE = "colla.image"
LABEL_VERSION = "colla.version"
LABEL_TEMPLATE = "colla.template-hash"
LABEL_PACKAGES = "colla.packages"
LABEL_BUILD_ID = "colla.build-id"
LineSink = Callable[[str], None]


class Status(enum.StrEnum):
    """How one image's build ended."""

    BUILT = "built"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ImageResult:
    """One image's outcome, for the summary table and for tests."""

    name: str
    ref: str
    status: Status
    seconds: float = 0.0
    image_id: str | None = None
    size: int = 0
    added: int = 0
    log_path: Path | None = None
    reason: str = ""
    tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildOptions:
    """How to build, beyond what to build."""

    log_dir: Path
    threads: int = 2
    nocache: bool = False
    push: str | None = None


class BuildObserver(Protocol):
    """Receives progress from the builder (the CLI draws it; tests may record it)."""

    def started(self, name: str) -> None:
        """An image's build began."""

    def line(self, name: str, text: str) -> None:
        """An image's build printed a line."""

    def finished(self, result: ImageResult) -> None:
        """An image's build ended (also called for skipped images)."""


class _Job:
    """The work of one image: render, build, label, push; writes the image's log."""

    def __init__(
        self,
        engine: Engine,
        rendered: RenderedImage,
        config: BuildConfig,
        options: BuildOptions,
        observer: BuildObserver,
    ) -> None:
        self.engine = engine
        self.rendered = rendered
        self.ref = config.ref(rendered.name)
        self.config = config
        self.options = options
        self.observer = observer
        self.log_path = options.log_dir / f"{rendered.name}.log"
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def run(self, parent_ref: str) -> ImageResult:
        started = time.monotonic()
        name = self.rendered.name
        self.observer.started(name)
        with self.log_path.open("w", encoding="utf-8") as log:

            def on_line(text: str) -> None:
                log.write(text + "\n")
                log.flush()
                self.tail.append(text)
                self.observer.line(name, text)

            try:
                status, image_id = self._build(on_line)
                if self.options.push:
                    self._push(image_id, on_line)
            except CollaError as e:
                on_line(f"colla: {e}")
                return ImageResult(
                    name=name,
                    ref=self.ref,
                    status=Status.FAILED,
                    seconds=time.monotonic() - started,
                    log_path=self.log_path,
                    reason=str(e),
                    tail=tuple(self.tail),
                )
        info = self.engine.image(image_id)
        parent = self.engine.image(parent_ref)
        size = info.size if info else 0
        return ImageResult(
            name=name,
            ref=self.ref,
            status=status,
            seconds=time.monotonic() - started,
            image_id=image_id,
            size=size,
            added=size - (parent.size if parent else 0),
            log_path=self.log_path,
        )

    def _build(self, on_line: LineSink) -> tuple[Status, str]:
        previous = self.engine.image(self.ref)
        on_line(f"colla: building {self.ref} (template {self.rendered.template_hash})")
        on_line("colla: Dockerfile:")
        for text in self.rendered.dockerfile.splitlines():
            on_line(f"  | {text}")
        build_id = self.engine.build(
            BuildRequest(
                context=self.rendered.context_tar(),
                nocache=self.options.nocache,
                labels={
                    LABEL_IMAGE: self.rendered.name,
                    LABEL_VERSION: __version__,
                    LABEL_TEMPLATE: self.rendered.template_hash,
                },
            ),
            on_line,
        )
        if previous is not None and previous.labels.get(LABEL_BUILD_ID) == build_id:
            on_line(f"colla: {self.ref} is up to date ({previous.id[7:19]})")
            return Status.CACHED, previous.id
        # The installed versions are known only after the build, so they are added by a
        # one-instruction build on top: cheap, and cached when nothing changed.
        packages = self._installed_versions(build_id)
        label = " ".join(packages)
        dockerfile = (
            f'FROM {build_id}\nLABEL {LABEL_PACKAGES}="{label}" {LABEL_BUILD_ID}="{build_id}"\n'
        )
        final_id = self.engine.build(
            BuildRequest(
                context=RenderedImage(self.rendered.name, dockerfile, (), ()).context_tar(),
                tag=self.ref,
            ),
            on_line,
        )
        status = Status.CACHED if previous is not None and previous.id == final_id else Status.BUILT
        on_line(f"colla: {self.ref} is {final_id[7:19]} ({status})")
        return status, final_id

    def _installed_versions(self, image_id: str) -> list[str]:
        if not self.rendered.packages:
            return []
        result = self.engine.run(
            image_id,
            ["dpkg-query", "-W", "-f=${Package}=${Version}\\n", *self.rendered.packages],
        )
        if result.exit_code != 0:
            raise CollaError(
                f"reading package versions in {self.ref} failed: {result.output.strip()}"
            )
        return sorted(line.strip() for line in result.output.splitlines() if "=" in line)

    def _push(self, image_id: str, on_line: LineSink) -> None:
        registry = self.options.push
        repository, tag = split_ref(self.ref)
        target = f"{registry}/{repository}"
        self.engine.tag(image_id, target, tag)
        on_line(f"colla: pushing {target}:{tag}")
        self.engine.push(target, tag, on_line)


def build_images(
    engine: Engine,
    catalog: Catalog,
    renderer: Renderer,
    config: BuildConfig,
    names: Sequence[str],
    options: BuildOptions,
    observer: BuildObserver,
) -> list[ImageResult]:
    """Build ``names`` (already including their ancestors) parents-first, in parallel.

    A failed image marks every image below it skipped; the others still build.
    Results come back in build order.
    """
    rendered = {name: renderer.render(name) for name in graph.order(catalog, names)}
    options.log_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, ImageResult] = {}
    doomed: dict[str, str] = {}  # image → the failed ancestor that dooms it

    def job(name: str) -> ImageResult:
        image = catalog[name]
        parent_ref = config.base_image if image.parent is None else config.ref(image.parent)
        return _Job(engine, rendered[name], config, options, observer).run(parent_ref)

    def skip(name: str) -> bool:
        if name not in doomed:
            return False
        report(
            name,
            ImageResult(
                name, config.ref(name), Status.SKIPPED, reason=f"parent {doomed[name]} failed"
            ),
        )
        return True

    def report(name: str, result: ImageResult) -> bool:
        results[name] = result
        observer.finished(result)
        if result.status is Status.FAILED:
            for below in catalog.descendants(name):
                doomed.setdefault(below, name)
        return True

    waiting = graph.waiting(catalog, rendered)
    run_in_order(
        graph.sorter(catalog, names), job, options.threads, skip, report, waiting.__getitem__
    )
    return [results[name] for name in rendered]
