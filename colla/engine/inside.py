"""Commands run inside a running container, and signals sent to its main process
(mixed into DockerEngine): how a container takes new config without a restart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from colla.engine.errors import translated


class InsideMixin:
    """``exec`` and ``signal`` on a running container."""

    _client: Any

    def exec(self, name: str, argv: Sequence[str]) -> tuple[int, str]:
        """Run ``argv`` in the running container ``name`` as root (what colla-start is
        before the service drops privileges: it may replace files the service owns):
        its exit code and output."""
        api = self._client.api
        with translated(f"run {argv[0]} in {name}"):
            exec_id = api.exec_create(name, list(argv), stdout=True, stderr=True, user="root")["Id"]
            output = api.exec_start(exec_id)
            code = api.exec_inspect(exec_id).get("ExitCode")
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
        return (int(code) if code is not None else 1), text

    def signal(self, name: str, signal: str) -> None:
        """Send ``signal`` (``SIGHUP``...) to the main process of container ``name``."""
        with translated(f"send {signal} to {name}"):
            self._client.api.kill(name, signal=signal)
