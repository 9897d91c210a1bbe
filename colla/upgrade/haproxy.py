"""HAProxy's runtime API (loopback TCP): drain a server, wait for traffic to move."""

from __future__ import annotations

import csv
import io
import socket
import time

from colla.errors import CollaError

ADMIN = ("127.0.0.1", 1984)


def admin(command: str, address: tuple[str, int] = ADMIN) -> str:
    """Send one runtime API command and return HAProxy's answer."""
    try:
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as e:
        raise CollaError(f"HAProxy runtime API at {address[0]}:{address[1]}: {e}") from None
    return b"".join(chunks).decode(errors="replace")


def servers(backend: str, address: tuple[str, int] = ADMIN) -> dict[str, tuple[str, int]]:
    """Server name → (status, current sessions) for one backend."""
    text = admin("show stat", address).lstrip("# ")
    found = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND"):
            found[row["svname"]] = (row.get("status", ""), int(row.get("scur") or 0))
    return found


def set_state(backend: str, server: str, state: str, address: tuple[str, int] = ADMIN) -> None:
    """``ready``, ``drain`` or ``maint`` for one server."""
    answer = admin(f"set server {backend}/{server} state {state}", address).strip()
    if answer:
        raise CollaError(f"HAProxy: set server {backend}/{server} state {state}: {answer}")


def wait_for(
    backend: str,
    want: dict[str, tuple[str | None, int | None]],
    timeout: float = 30,
    address: tuple[str, int] = ADMIN,
) -> None:
    """Wait until each named server has the wanted status and/or session count."""
    deadline = time.monotonic() + timeout
    while True:
        now = servers(backend, address)
        if all(
            name in now
            and (status is None or now[name][0].startswith(status))
            and (sessions is None or now[name][1] <= sessions)
            for name, (status, sessions) in want.items()
        ):
            return
        if time.monotonic() > deadline:
            raise CollaError(
                f"HAProxy backend {backend}: {want} not reached in {timeout:.0f} s: {now}"
            )
        time.sleep(0.2)
