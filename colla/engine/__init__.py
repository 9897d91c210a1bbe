"""The Docker engine, behind one interface: the only package that imports the Docker SDK."""

from colla.engine.client import BuildRequest, Engine, ImageInfo, RunResult

__all__ = ["BuildRequest", "Engine", "ImageInfo", "RunResult"]
