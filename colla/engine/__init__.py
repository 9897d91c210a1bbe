"""The Docker engine, behind one interface: the only package that imports the Docker SDK."""

from colla.engine.client import BuildRequest, Engine, ImageInfo, RunResult
from colla.engine.containers import ContainerInfo, ContainerRequest, Grants

__all__ = [
    "BuildRequest",
    "ContainerInfo",
    "ContainerRequest",
    "Engine",
    "Grants",
    "ImageInfo",
    "RunResult",
]
