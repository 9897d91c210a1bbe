"""The deployment's lock: one command that changes a deployment at a time."""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from colla.errors import BadInput, CollaError

LOCK_FILE = ".colla.lock"


def command_line() -> str:
    """The command that is running, for history and the lock."""
    return shlex.join(["colla", *sys.argv[1:]])


@contextmanager
def locked(config_dir: Path, command: str | None = None) -> Iterator[None]:
    """Hold the deployment's lock: one changing colla command at a time.

    The lock file says which command holds it (``command``, default this process's
    command line), so the one refused can name it.
    """
    path = config_dir / LOCK_FILE
    try:
        config_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    except OSError as e:
        # A read-only or full config directory: the lock is the first thing written.
        raise CollaError(f"{path}: cannot take the deployment's lock: {e.strerror}") from None
    with os.fdopen(fd, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid, _, holder = handle.read().strip().partition(" ")
            running = f"`{holder}`, pid {pid or '?'}" if holder else f"pid {pid or '?'}"
            raise BadInput(
                f"another colla command ({running}) is changing the deployment of "
                f"{config_dir}; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {command or command_line()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
