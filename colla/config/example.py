"""`colla init`: a commented all-in-one configuration to start from."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from colla.config.inventory import AIO_INVENTORY_TEXT
from colla.config.passwords import write_private_file
from colla.errors import BadInput, CollaError

_GLOBALS_HEAD = """\
---
# colla globals: the settings of this deployment, with kolla-ansible's key names.
# This example runs every service on this machine (all-in-one); a commented key
# shows its default.

# The OpenStack release; also the image tag unless openstack_tag is set.
openstack_release: "zed"
#openstack_tag:

# colla builds Debian images only.
#kolla_base_distro: "debian"

# Images are pulled as <docker_registry>/<docker_namespace>/<image>:<tag>; without
# a registry they must have been built on each host.
#docker_registry:
docker_namespace: "colla"

# The interface of the management network, and the one the APIs listen on (by
# default the same). "lo" keeps a single-machine deployment off the network.
network_interface: "lo"
#api_interface:

# The address clients use to reach the APIs.
kolla_internal_vip_address: "127.0.0.1"

# Neutron's flat provider network ("physnet1", for router gateways and floating IPs)
# is bridged to this interface on network hosts: a spare one, since the bridge takes
# it over. `make aio` creates colla-ext0 as one end of a veth pair on this machine.
neutron_external_interface: "colla-ext0"
# The interface whose address carries tenant (vxlan) traffic; default network_interface.
#tunnel_interface:
# kvm, or qemu (software emulation); unset: kvm where this machine can run KVM guests.
#nova_compute_virt_type:

# TLS ended by HAProxy on the VIP(s) (needs enable_haproxy; run `colla certs` first),
# and the message bus over TLS with the internal certificate (needs the internal side).
#kolla_enable_tls_internal: false
#kolla_enable_tls_external: false
#rabbitmq_enable_tls: false

# Worker processes of each API and of each RPC service (nova's conductor and scheduler,
# neutron's RPC workers). Unset: sized from this machine, one per two cores and per
# 4 GiB of memory, at most 5 and 3; fewer use less memory, more serve more at once.
#openstack_service_workers:
#openstack_service_rpc_workers:
# Seconds a container may take to become healthy before a deploy fails.
#colla_health_timeout: 300
# Each container's log is rotated (Docker's json-file driver): at most this many files
# of this size. A change recreates every container.
#docker_log_max_size: "50m"
#docker_log_max_file: 5

# Services to deploy:
"""

_PASSWORDS = """\
# colla passwords: keep this file secret (mode 0600).
# Run `colla genpwd` to fill in every password the enabled services need.
"""


def globals_example(services: Mapping[str, bool]) -> str:
    """The text of the example globals.yml, with an ``enable_`` line per known service."""
    flags = "".join(
        f"#enable_{name}: {'true' if on else 'false'}\n" for name, on in sorted(services.items())
    )
    return _GLOBALS_HEAD + flags


def write_example(
    config_dir: Path, services: Mapping[str, bool], force: bool = False
) -> list[Path]:
    """Write globals.yml, inventory and an empty passwords.yml into ``config_dir``.

    Nothing is written if one of them exists, unless ``force``; even then an existing
    passwords.yml is kept, since overwriting it would lose a live cloud's passwords.
    Returns the paths written.
    """
    files = {
        config_dir / "globals.yml": globals_example(services),
        config_dir / "inventory": AIO_INVENTORY_TEXT,
        config_dir / "passwords.yml": _PASSWORDS,
    }
    if config_dir.exists() and not config_dir.is_dir():
        raise BadInput(f"{config_dir}: exists and is not a directory")
    if not force:
        for path in files:
            if path.exists() or path.is_symlink():
                raise BadInput(f"{path}: already exists (use --force to overwrite)")
    passwords = config_dir / "passwords.yml"
    if passwords.exists():
        del files[passwords]
    try:
        if not config_dir.exists():
            config_dir.mkdir(parents=True)
            # chmod, as mkdir's mode is cut by the umask; the directory holds secrets.
            config_dir.chmod(0o750)
        for path, text in files.items():
            if path.name == "passwords.yml":
                write_private_file(path, text)
            else:
                path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise CollaError(f"{config_dir}: cannot write: {e.strerror}") from None
    return list(files)
