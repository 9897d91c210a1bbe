"""A node's Docker socket, forwarded to a private local socket by the system ``ssh``.

Why not the Docker SDK's own SSH transport: its paramiko mode needs paramiko and reads
keys and host keys only from ``~/.ssh``; its ``use_ssh_client`` mode starts one ``ssh``
per HTTP connection and cannot be given a key, a port-independent known_hosts file or
any option. One ``ssh -L`` per node takes explicit options (key, known_hosts,
strict host-key checking), and the SDK then talks to a plain unix socket with its
usual connection pool.

Tunnels live as long as the process: one per node endpoint, reused by every command
run in the same process (the tests run many), and closed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from colla.engine.endpoint import Endpoint, ssh_command
from colla.errors import EngineError

START_TIMEOUT = 15.0


class Tunnel:
    """One running ``ssh -N -L <socket>:<engine socket>`` process."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        # A private directory: the socket gives full control of the node's engine.
        self.directory = Path(tempfile.mkdtemp(prefix="colla-ssh-"))
        self.socket = self.directory / "docker.sock"
        self.process = subprocess.Popen(
            ssh_command(endpoint, str(self.socket)),
            # Held open and never written: when colla exits, however it exits, ssh reads
            # EOF, its remote command ends and so does the tunnel.
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C for colla must not kill it mid-request
        )
        self._wait()

    @property
    def url(self) -> str:
        """The local socket's URL for the Docker SDK."""
        return f"unix://{self.socket}"

    def alive(self) -> bool:
        """Whether the ssh process still runs."""
        return self.process.poll() is None

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.socket.exists():
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else b""
                self.close()
                detail = " ".join(stderr.decode("utf-8", "replace").split()) or (
                    f"ssh exited with status {self.process.returncode}"
                )
                raise EngineError(f"node {self.endpoint.node} ({self.endpoint.url}): {detail}")
            if time.monotonic() > deadline:
                self.close()
                raise EngineError(
                    f"node {self.endpoint.node} ({self.endpoint.url}): ssh did not connect "
                    f"within {START_TIMEOUT:.0f} s"
                )
            time.sleep(0.05)

    def close(self) -> None:
        """Stop ssh and remove the socket's directory."""
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class _Tunnels:
    """The process's tunnels, one per endpoint, replaced when their ssh died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Endpoint, Tunnel] = {}
        self._pid = os.getpid()

    def get(self, endpoint: Endpoint) -> Tunnel:
        with self._lock:
            tunnel = self._open.get(endpoint)
            if tunnel is not None and tunnel.alive():
                return tunnel
        fresh = Tunnel(endpoint)  # outside the lock: nodes connect in parallel
        with self._lock:
            old = self._open.get(endpoint)
            self._open[endpoint] = fresh
        if old is not None:
            old.close()
        return fresh

    def drop(self, endpoint: Endpoint) -> None:
        with self._lock:
            tunnel = self._open.pop(endpoint, None)
        if tunnel is not None:
            tunnel.close()

    def close_all(self) -> None:
        if os.getpid() != self._pid:  # a forked child does not own them
            return
        with self._lock:
            tunnels, self._open = list(self._open.values()), {}
        for tunnel in tunnels:
            tunnel.close()


TUNNELS = _Tunnels()
atexit.register(TUNNELS.close_all)
