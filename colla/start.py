#!/usr/bin/python3
"""colla-start: the start contract inside every colla image.

It reads ``/var/lib/colla/config/config.json``, installs the config files it names
(with owner and mode), fixes ownership of the paths it names, runs the image's
optional ``colla-extend-start`` hook, then execs the command, as the service user
where the image or the config says so.

This file is copied into the base image as ``/usr/local/bin/colla-start``: it must
need nothing beyond the Python standard library of Debian's python3.
"""

from __future__ import annotations

import glob
import grp
import json
import os
import pwd
import shlex
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, NoReturn

CONFIG_PATH = "/var/lib/colla/config/config.json"
MARKER_PATH = "/var/lib/colla/config-installed"
EXTEND_START = "/usr/local/bin/colla-extend-start"
STRATEGIES = ("COPY_ALWAYS", "COPY_ONCE")
EX_CONFIG = 78  # sysexits: configuration error


class StartError(Exception):
    """A problem that stops the container with one line on stderr."""


@dataclass(frozen=True)
class ConfigFile:
    """One file (or directory, or glob) to install before the service starts."""

    source: str
    dest: str
    owner: str
    perm: int
    optional: bool


@dataclass(frozen=True)
class Permission:
    """A path whose ownership (and optionally mode) is set before the service starts."""

    path: str
    owner: str
    perm: int | None
    recurse: bool


@dataclass(frozen=True)
class StartConfig:
    """The validated content of config.json."""

    command: tuple[str, ...]
    config_files: tuple[ConfigFile, ...]
    permissions: tuple[Permission, ...]
    user: str | None
    # HOST:PORT of each service this one needs: after an engine restart every container
    # starts at once, and a service that starts before its dependencies answer can stay
    # broken for minutes (the Neutron agents did). Waited for before anything else.
    wait_for: tuple[str, ...] = ()


def _require(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in entry:
        raise StartError(f"{where}: missing key '{key}'")
    value = entry[key]
    if not isinstance(value, kind):
        raise StartError(f"{where}: '{key}' must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _mode(text: Any, where: str) -> int:
    if not isinstance(text, str):
        raise StartError(f"{where}: 'perm' must be an octal string such as \"0640\"")
    try:
        mode = int(text, 8)
    except ValueError:
        raise StartError(f"{where}: 'perm' {text!r} is not an octal mode") from None
    if not 0 <= mode <= 0o7777:
        raise StartError(f"{where}: 'perm' {text!r} is out of range")
    return mode


def _check_keys(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise StartError(f"{where}: unknown key(s) {', '.join(unknown)}")


def parse_config(data: Any, path: str = CONFIG_PATH) -> StartConfig:
    """Validate the decoded JSON of config.json into a StartConfig."""
    if not isinstance(data, dict):
        raise StartError(f"{path}: the top level must be an object")
    _check_keys(data, {"command", "config_files", "permissions", "user", "wait_for"}, path)
    raw_command = data.get("command")
    if isinstance(raw_command, str):
        command = tuple(shlex.split(raw_command))
    elif isinstance(raw_command, list) and all(isinstance(a, str) for a in raw_command):
        command = tuple(raw_command)
    else:
        raise StartError(f"{path}: 'command' must be a string or a list of strings")
    if not command:
        raise StartError(f"{path}: 'command' is empty")
    files = []
    raw_files = data.get("config_files", [])
    if not isinstance(raw_files, list):
        raise StartError(f"{path}: 'config_files' must be a list")
    for i, entry in enumerate(raw_files):
        where = f"{path}: config_files[{i}]"
        if not isinstance(entry, dict):
            raise StartError(f"{where}: must be an object")
        _check_keys(entry, {"source", "dest", "owner", "perm", "optional"}, where)
        optional = entry.get("optional", False)
        if not isinstance(optional, bool):
            raise StartError(f"{where}: 'optional' must be true or false")
        files.append(
            ConfigFile(
                source=_require(entry, "source", str, where),
                dest=_require(entry, "dest", str, where),
                owner=_require(entry, "owner", str, where),
                perm=_mode(_require(entry, "perm", str, where), where),
                optional=optional,
            )
        )
    perms = []
    raw_perms = data.get("permissions", [])
    if not isinstance(raw_perms, list):
        raise StartError(f"{path}: 'permissions' must be a list")
    for i, entry in enumerate(raw_perms):
        where = f"{path}: permissions[{i}]"
        if not isinstance(entry, dict):
            raise StartError(f"{where}: must be an object")
        _check_keys(entry, {"path", "owner", "perm", "recurse"}, where)
        recurse = entry.get("recurse", False)
        if not isinstance(recurse, bool):
            raise StartError(f"{where}: 'recurse' must be true or false")
        perms.append(
            Permission(
                path=_require(entry, "path", str, where),
                owner=_require(entry, "owner", str, where),
                perm=_mode(entry["perm"], where) if "perm" in entry else None,
                recurse=recurse,
            )
        )
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise StartError(f"{path}: 'user' must be a string")
    waits = data.get("wait_for", [])
    if not isinstance(waits, list) or not all(isinstance(w, str) for w in waits):
        raise StartError(f"{path}: 'wait_for' must be a list of HOST:PORT strings")
    return StartConfig(command, tuple(files), tuple(perms), user, tuple(waits))


def load_config(path: str = CONFIG_PATH) -> StartConfig:
    """Read and validate config.json."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise StartError(f"{path} is missing: mount the rendered config directory") from None
    except json.JSONDecodeError as e:
        raise StartError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}") from None
    except OSError as e:
        raise StartError(f"{path}: cannot read: {e.strerror}") from None
    return parse_config(data, path)


def resolve_owner(owner: str) -> tuple[int, int]:
    """``user`` or ``user:group`` (names or numbers) to a uid and gid."""
    user, _, group = owner.partition(":")
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        if user.isdigit():
            uid, gid = int(user), int(user)
        else:
            raise StartError(f"owner {owner!r}: no user {user!r} in this image") from None
    else:
        uid, gid = entry.pw_uid, entry.pw_gid
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            try:
                gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise StartError(f"owner {owner!r}: no group {group!r} in this image") from None
    return uid, gid


def _apply(path: str, uid: int, gid: int, mode: int | None) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    if mode is not None and not os.path.islink(path):
        os.chmod(path, mode)


def _install_one(source: str, dest: str, uid: int, gid: int, mode: int) -> None:
    if os.path.isdir(source):
        if os.path.lexists(dest):
            shutil.rmtree(dest) if os.path.isdir(dest) else os.remove(dest)
        shutil.copytree(source, dest, symlinks=True)
        for root, _dirs, names in os.walk(dest):
            os.chown(root, uid, gid)
            # Directories keep search permission wherever the files are readable.
            os.chmod(root, mode | ((mode & 0o444) >> 2))
            for name in names:
                _apply(os.path.join(root, name), uid, gid, mode)
        return
    parent = os.path.dirname(dest)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = f"{dest}.colla-new"
    shutil.copyfile(source, tmp)
    _apply(tmp, uid, gid, mode)
    os.replace(tmp, dest)


def install_files(config: StartConfig) -> list[str]:
    """Install every config file; return the destinations written."""
    written = []
    for item in config.config_files:
        uid, gid = resolve_owner(item.owner)
        if any(c in item.source for c in "*?["):
            matches = sorted(glob.glob(item.source))
            if not matches and not item.optional:
                raise StartError(f"config file {item.source} matches nothing")
            os.makedirs(item.dest, exist_ok=True)
            for match in matches:
                target = os.path.join(item.dest, os.path.basename(match))
                _install_one(match, target, uid, gid, item.perm)
                written.append(target)
            continue
        if not os.path.lexists(item.source):
            if item.optional:
                continue
            raise StartError(f"config file {item.source} is missing (not optional)")
        _install_one(item.source, item.dest, uid, gid, item.perm)
        written.append(item.dest)
    return written


def apply_permissions(config: StartConfig) -> None:
    """Create and chown the paths named in ``permissions`` (volumes, log and lock dirs)."""
    for item in config.permissions:
        uid, gid = resolve_owner(item.owner)
        os.makedirs(item.path, exist_ok=True)
        _apply(item.path, uid, gid, item.perm)
        if item.recurse:
            for root, dirs, names in os.walk(item.path):
                for name in dirs + names:
                    os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def strategy_from_env(env: dict[str, str]) -> str:
    """The copy strategy: COPY_ALWAYS (default) or COPY_ONCE."""
    value = env.get("COLLA_CONFIG_STRATEGY", "COPY_ALWAYS")
    if value not in STRATEGIES:
        raise StartError(
            f"COLLA_CONFIG_STRATEGY={value!r}: expected one of {', '.join(STRATEGIES)}"
        )
    return value


def drop_privileges(user: str) -> None:
    """Become ``user`` (with its groups) before exec; a no-op when not root."""
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise StartError(f"service user {user!r} does not exist in this image") from None
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir
    os.environ["USER"] = entry.pw_name


def run(env: dict[str, str], config_path: str = CONFIG_PATH) -> NoReturn:
    """Do the whole start sequence and exec the command."""
    strategy = strategy_from_env(env)
    config = load_config(config_path)
    timeout = float(env.get("COLLA_WAIT_TIMEOUT", "600"))
    for target in config.wait_for:
        # Past the timeout colla-start fails, and the engine's restart policy tries again.
        wait_for(["tcp", target], timeout=timeout)
    marker = env.get("COLLA_MARKER_PATH", MARKER_PATH)
    if strategy == "COPY_ALWAYS" or not os.path.exists(marker):
        install_files(config)
        apply_permissions(config)
        if strategy == "COPY_ONCE":
            with open(marker, "w", encoding="utf-8") as f:
                f.write("installed\n")
    hook = env.get("COLLA_EXTEND_START", EXTEND_START)
    if os.access(hook, os.X_OK):
        rc = os.spawnv(os.P_WAIT, hook, [hook])
        if rc != 0:
            raise StartError(f"{hook} exited with status {rc}")
    user = config.user or env.get("COLLA_SERVICE_USER") or None
    if user:
        drop_privileges(user)
    sys.stdout.flush()
    try:
        os.execvp(config.command[0], list(config.command))
    except OSError as e:
        raise StartError(f"cannot run {config.command[0]!r}: {e.strerror}") from None


def wait_for(args: list[str], timeout: float = 600.0, pause: float = 2.0) -> None:
    """``wait-for tcp HOST:PORT`` or ``wait-for http URL``: return once it answers.

    Used by init containers (Kubernetes) that wait for the services a pod needs.
    """
    if len(args) != 2 or args[0] not in ("tcp", "http"):
        raise StartError("usage: colla-start wait-for tcp HOST:PORT | wait-for http URL")
    kind, target = args
    deadline = time.monotonic() + timeout
    while True:
        try:
            if kind == "tcp":
                host, _, port = target.rpartition(":")
                if not host or not port.isdigit():
                    raise StartError(f"wait-for tcp: {target!r} is not HOST:PORT")
                socket.create_connection((host, int(port)), timeout=5).close()
            else:
                with urllib.request.urlopen(target, timeout=5) as response:
                    response.read(1)
            print(f"colla-start: {target} answers", flush=True)
            return
        except (OSError, urllib.error.URLError) as e:
            if time.monotonic() > deadline:
                raise StartError(
                    f"wait-for {kind} {target}: no answer after {timeout:.0f} s: {e}"
                ) from None
            time.sleep(pause)


def _http_answers(url: str) -> None:
    # A client error (401 without a token, say) still means the service answers.
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read(1)
    except urllib.error.HTTPError as e:
        if e.code >= 500:
            raise


def main() -> None:
    """Entry point: one clear line on stderr and a non-zero exit on any failure."""
    try:
        if sys.argv[1:2] == ["wait-for"]:
            wait_for(sys.argv[2:])
            return
        run(dict(os.environ), os.environ.get("COLLA_CONFIG", CONFIG_PATH))
    except StartError as e:
        print(f"colla-start: {e}", file=sys.stderr, flush=True)
        sys.exit(EX_CONFIG)
    except OSError as e:
        print(f"colla-start: {e.filename or ''}: {e.strerror}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
