"""Facts about this machine's network: interface addresses, listening ports and owners."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
from pathlib import Path

_SIOCGIFADDR = 0x8915


def interface_exists(name: str) -> bool:
    """Whether this machine has a network interface called ``name``."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def ipv4_address(name: str) -> str | None:
    """The IPv4 address of interface ``name``; None when it has none (or does not exist)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode())
            )
        except OSError as e:
            if e.errno in (errno.EADDRNOTAVAIL, errno.ENODEV, errno.ENXIO):
                return None
            raise
    return socket.inet_ntoa(packed[20:24])


def port_in_use(address: str, port: int) -> bool:
    """Whether something already listens on (address, port) over TCP."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR lets bind ignore connections in TIME_WAIT (left by a container
        # just removed) while a live listener still makes it fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            if e.errno == errno.EACCES:
                return False
            raise
    return False


def listener_process(port: int) -> str | None:
    """The name and PID of the process listening on TCP ``port``, where /proc shows it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = Path(f"/proc/{pid}/comm").read_text().strip()
                    return f"{name} (pid {pid})"
        except OSError:
            continue
    return None
