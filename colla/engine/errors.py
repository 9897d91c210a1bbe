"""Turning Docker SDK and transport failures into one-line colla errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker.errors
import requests.exceptions

from colla.errors import EngineError


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn SDK and transport failures into one-line EngineErrors naming the request."""
    try:
        yield
    except docker.errors.ImageNotFound as e:
        raise EngineError(f"{what}: image not found ({explain(e)})") from e
    except docker.errors.NotFound as e:
        raise EngineError(f"{what}: not found ({explain(e)})") from e
    except docker.errors.APIError as e:
        raise EngineError(f"{what}: the engine said: {explain(e)}") from e
    except docker.errors.DockerException as e:
        raise EngineError(f"{what}: {e}") from e
    except requests.exceptions.ConnectionError as e:
        raise EngineError(f"{what}: the Docker engine does not answer ({e})") from e


def explain(e: docker.errors.APIError) -> str:
    explanation = getattr(e, "explanation", None)
    return str(explanation or e).strip()
