"""The lab's files: its SSH keys, known_hosts, and the config directory it writes."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from colla.config.passwords import write_private_file
from colla.errors import CollaError
from colla.history.store import HISTORY_FILE
from colla.lab.settings import MAX_NODES, LabSettings
from colla.lock import LOCK_FILE, locked
from colla.outdir import Made, claim, foreign_files, read_marker, remove_written, write_marker

STATE_MADE_BY = "colla lab up"
INVENTORY_HEADER = "# written by `colla lab up` for lab "
# What `lab down` removes: the lab's own files, and what colla's commands write into the
# state directory when it serves as their config directory (-c), as `lab up` suggests.
# Nothing else: the directory itself goes only when that leaves it empty.
LAB_FILES = (
    "id_ed25519",
    "id_ed25519.pub",
    "known_hosts",
    "inventory",
    "globals.yml",
    "passwords.yml",
    *(f"hostkeys/node{i}{suffix}" for i in range(1, MAX_NODES + 1) for suffix in ("", ".pub")),
    *(HISTORY_FILE + suffix for suffix in ("", "-journal", "-wal", "-shm")),
    LOCK_FILE,
    "admin-openrc.sh",
    "clouds.yaml",
)


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key: the private key file's bytes and the public line."""

    private: bytes
    public: bytes


def check_state_dir(path: Path) -> None:
    """Refuse a state directory the lab did not make: up would overwrite its inventory
    and down would remove files from it."""
    if read_marker(path) is None and not _made_before_markers(path):
        claim(path, f"--state-dir {path}")


def ensure_state_dir(path: Path) -> None:
    """The state directory, mode 0700 (it holds the key that opens every node), marked."""
    check_state_dir(path)
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    if read_marker(path) is None:
        write_marker(path, Made(STATE_MADE_BY))


@contextmanager
def held(path: Path) -> Iterator[None]:
    """The state directory, made and marked first, with the deployment lock held in it.

    It is the config directory of the lab's deployments (-c), so lab commands and those
    take one lock. Marked before locking: the lock file alone would make a new
    directory look non-empty and foreign.
    """
    ensure_state_dir(path)
    with locked(path):
        yield


def remove_state(path: Path) -> list[str]:
    """Remove the lab's files from its state directory; what is left there, not the lab's."""
    check_state_dir(path)
    remove_written(path, LAB_FILES)
    return foreign_files(path, frozenset()) if path.exists() else []


def _made_before_markers(path: Path) -> bool:
    # A state directory from before markers existed: its inventory says the lab wrote it.
    try:
        with open(path / "inventory", encoding="utf-8") as handle:
            return handle.readline().startswith(INVENTORY_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def ensure_key(path: Path, comment: str) -> KeyPair:
    """An ed25519 key at ``path`` (0600) and ``path``.pub, made once with ssh-keygen."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                check=True,
                capture_output=True,
            )
        except FileNotFoundError:
            raise CollaError("ssh-keygen is missing: install openssh-client") from None
        except subprocess.CalledProcessError as e:
            raise CollaError(f"ssh-keygen {path}: {e.stderr.decode().strip()}") from None
    for file in (path, path.with_suffix(".pub")):
        file.chmod(0o600)
    return KeyPair(path.read_bytes(), path.with_suffix(".pub").read_bytes())


def host_key(settings: LabSettings, node: str) -> KeyPair:
    """A node's SSH host key, made by the lab so that known_hosts is written, not learnt."""
    return ensure_key(settings.state_dir / "hostkeys" / node, f"{settings.name}-{node}")


def write_known_hosts(settings: LabSettings, keys: Mapping[str, bytes]) -> Path:
    """known_hosts for every node: address, then the key type and key of its host key."""
    lines = []
    for node, public in sorted(keys.items()):
        kind, key = public.decode().split()[:2]
        lines.append(f"{settings.node_address(node)} {kind} {key}\n")
    path = settings.state_dir / "known_hosts"
    _write_if_changed(path, "".join(lines), 0o600)
    return path


def inventory_text(settings: LabSettings) -> str:
    """The lab's inventory: node1 is control and network, the others compute."""
    state = settings.state_dir
    common = (
        f"ansible_user=root ansible_ssh_private_key_file={state / 'id_ed25519'} "
        f"colla_ssh_known_hosts={state / 'known_hosts'}"
    )
    names = settings.node_names()
    lines = [f"{INVENTORY_HEADER}{settings.name}; rewritten on every up\n"]

    def group(name: str, members: list[str]) -> None:
        lines.append(f"\n[{name}]\n")
        for node in members:
            lines.append(f"{node} ansible_host={settings.node_address(node)} {common}\n")

    group("control", names[:1])
    group("network", names[:1])
    group("compute", names[1:])
    group("storage", [])
    group("monitoring", names[:1])
    return "".join(lines)


def globals_text(settings: LabSettings) -> str:
    """A starting globals.yml for the lab (written once; the operator may edit it)."""
    first = settings.node_address("node1")
    return (
        f"---\n# colla globals for lab {settings.name}, written by `colla lab up` once.\n"
        "# Inside a lab node the management interface is eth0; eth1 is spare, for the\n"
        "# provider network. Lab nodes have no /dev/kvm: guests are emulated.\n"
        'network_interface: "eth0"\nneutron_external_interface: "eth1"\n'
        'nova_compute_virt_type: "qemu"\n'
        f'kolla_internal_vip_address: "{first}"\n'
        "# Nodes pull images from the lab's registry (`colla registry up`, then\n"
        "# `colla build --push 127.0.0.1:4000`); without it, use `colla images send`.\n"
        f'#docker_registry: "{settings.docker_registry}"\n'
        f"colla_history_path: history.sqlite\n"
    )


def write_config(settings: LabSettings) -> None:
    """inventory (always), globals.yml and passwords.yml (only when missing)."""
    state = settings.state_dir
    _write_if_changed(state / "inventory", inventory_text(settings), 0o640)
    if not (state / "globals.yml").exists():
        _write_if_changed(state / "globals.yml", globals_text(settings), 0o640)
    if not (state / "passwords.yml").exists():
        write_private_file(state / "passwords.yml", "# colla passwords: run `colla genpwd`\n")


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
