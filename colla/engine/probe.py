"""A container's own healthcheck, run once on demand (mixed into DockerEngine).

Docker runs a healthcheck every ``interval`` (5 to 10 s in the catalog; this engine,
API 1.41, has no faster ``start_interval``), so a service that serves 3 s after it
starts is reported healthy 5 s after, and every level of a deploy waits out the rest of
the interval before the next starts. Running the same command ourselves as soon as the
service may be up removes that wait without changing what "healthy" means.
"""

from __future__ import annotations

from typing import Any

import docker.errors
import requests.exceptions

from colla.engine.containers import NANO
from colla.errors import EngineError

DEFAULT_TIMEOUT = 30  # seconds: Docker's default healthcheck timeout


def probe_command(config: dict[str, Any]) -> list[str] | None:
    """The argv that runs a container's healthcheck (its inspect ``Config``), bounded by
    its timeout with coreutils' ``timeout``; None when it declares no healthcheck."""
    check = config.get("Healthcheck") or {}
    test = list(check.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(test[1:])]
    elif test[0] == "CMD":
        argv = test[1:]
    else:  # a bare list is a CMD in the engine's own format
        argv = test
    if not argv:
        return None
    seconds = int(check.get("Timeout") or DEFAULT_TIMEOUT * NANO) // NANO or DEFAULT_TIMEOUT
    return ["timeout", str(seconds), *argv]


class ProbeMixin:
    """Runs a container's healthcheck command in it, now."""

    _client: Any

    def probe_health(self, name: str) -> bool | None:
        """Run ``name``'s own healthcheck once: True when it passes, False when it
        fails or the container is not running, None when it declares none."""
        api = self._client.api
        try:
            attrs = api.inspect_container(name)
            argv = probe_command(attrs.get("Config") or {})
            if argv is None:
                return None
            if not (attrs.get("State") or {}).get("Running"):
                return False
            exec_id = api.exec_create(name, argv, stdout=False, stderr=False)["Id"]
            api.exec_start(exec_id)
            return bool(api.exec_inspect(exec_id).get("ExitCode") == 0)
        except docker.errors.APIError:
            # Gone or stopped between the calls: not serving; the caller's own wait
            # says why from the container's state.
            return False
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise EngineError(f"probe health of {name}: {e}") from e
