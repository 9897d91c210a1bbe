"""The Docker engine, behind one interface: the only package that imports the Docker SDK.

The library is annotated against :class:`Engine`, a protocol; :class:`DockerEngine`
implements it over the SDK and is constructed only where a command opens connections.
"""

from typing import TYPE_CHECKING

from colla.engine.client import BuildRequest, DockerEngine, ImageInfo, RunResult
from colla.engine.containers import ContainerInfo, ContainerRequest, Grants
from colla.engine.protocol import Engine

if TYPE_CHECKING:

    def _implements(engine: DockerEngine) -> Engine:
        # mypy refuses this when DockerEngine stops satisfying the protocol.
        return engine


__all__ = [
    "BuildRequest",
    "ContainerInfo",
    "ContainerRequest",
    "DockerEngine",
    "Engine",
    "Grants",
    "ImageInfo",
    "RunResult",
]
