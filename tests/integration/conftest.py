"""Fixtures for the integration tier: the real engine, the real base image, real builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from colla.engine import Engine
from colla.images import graph
from colla.images.base import BaseSettings, ensure_base
from colla.images.builder import BuildOptions, ImageResult, build_images
from colla.images.catalog import load_catalog
from colla.images.config import BuildConfig
from colla.images.render import Renderer

# Test images live in their own namespace; Docker's layer cache is shared with the
# operator's images, so a machine that ran `make aio` builds them in seconds.
TEST_CONFIG = BuildConfig(namespace="colla-test", tag="it")


class Recorder:
    """A BuildObserver that keeps what it is told."""

    def __init__(self) -> None:
        self.begun: list[str] = []
        self.results: list[ImageResult] = []

    def started(self, name: str) -> None:
        self.begun.append(name)

    def line(self, name: str, text: str) -> None:
        pass

    def finished(self, result: ImageResult) -> None:
        self.results.append(result)


@pytest.fixture(scope="session")
def base_image(engine: Engine) -> str:
    """The offline base image, made with debootstrap when the engine lacks it."""
    result = ensure_base(engine, BaseSettings(), print)
    return result.ref


def build_core(engine: Engine, log_dir: Path) -> list[ImageResult]:
    """Build the core profile of the shipped catalog under the test namespace."""
    catalog = load_catalog()
    names = graph.order(catalog, graph.select(catalog, [], "core"))
    return build_images(
        engine,
        catalog,
        Renderer(catalog, TEST_CONFIG),
        TEST_CONFIG,
        names,
        BuildOptions(log_dir=log_dir, threads=2),
        Recorder(),
    )


@pytest.fixture(scope="session")
def core_images(
    engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ImageResult]]:
    """The real core image set, built once per test session."""
    yield build_core(engine, tmp_path_factory.mktemp("build-logs"))
