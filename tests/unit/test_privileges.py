"""Privileges as one model: the catalog's edge type, the engine's mapping both ways."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import docker.types
import pytest

import colla.model
from colla.engine import Grants
from colla.engine.containers import privilege_options
from colla.model.catalog import PrivilegesDef
from colla.model.privileges import Privileges

EVERY_GRANT = Privileges(
    cap_add=("SYS_ADMIN", "NET_ADMIN"),
    cap_drop=("NET_RAW",),
    security_opt=("apparmor=unconfined",),
    devices=("/dev/net/tun",),
    pid_mode="host",
    ipc_mode="host",
    init=True,
    reason="all of them",
)


def test_the_catalogs_edge_type_has_the_models_fields() -> None:
    assert list(PrivilegesDef.model_fields) == [f.name for f in fields(Privileges)]
    declared = PrivilegesDef(cap_add=("NET_ADMIN",), pid_mode="host", init=True, reason="r")
    assert declared.to_privileges() == Privileges(
        cap_add=("NET_ADMIN",), pid_mode="host", init=True, reason="r"
    )


def test_the_model_imports_no_layer_above_it() -> None:
    for path in Path(colla.model.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            # The values every layer shares sit below them all: they may use the
            # validated input (config), colla's error type and each other, no layer above.
            above = ("deploy", "engine", "cli", "export", "upgrade", "history", "lab", "images")
            assert not [n for n in names if n.startswith(tuple(f"colla.{a}" for a in above))]


def test_what_the_engine_asks_for_is_what_inspect_reads_back() -> None:
    # HostConfig is what create_host_config builds; made here without a daemon.
    host = dict(docker.types.HostConfig(version="1.43", **privilege_options(EVERY_GRANT)))
    assert host["CapAdd"] == ["SYS_ADMIN", "NET_ADMIN"] and host["CapDrop"] == ["NET_RAW"]
    assert host["Devices"] == [
        {
            "PathOnHost": "/dev/net/tun",
            "PathInContainer": "/dev/net/tun",
            "CgroupPermissions": "rwm",
        }
    ]
    assert (host["PidMode"], host["IpcMode"], host["Init"]) == ("host", "host", True)
    observed = Grants.from_inspect({"HostConfig": host}).privileges
    assert observed.words() == EVERY_GRANT.words() and observed.reason == ""


def test_docker_defaults_ask_for_nothing_and_read_back_as_nothing() -> None:
    assert set(privilege_options(Privileges()).values()) == {None}
    host = {"PidMode": "", "IpcMode": "private", "CapAdd": None, "Init": None}
    assert Grants.from_inspect({"HostConfig": host}).privileges == Privileges()


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ({"IpcMode": "shareable"}, set()),
        ({"PidMode": "container:abc"}, {"pid container:abc"}),
        ({"CapAdd": ["CAP_NET_ADMIN"]}, {"cap_add NET_ADMIN"}),
        ({"SecurityOpt": ["apparmor:unconfined"]}, {"security_opt apparmor=unconfined"}),
        ({"MaskedPaths": []}, {"security_opt systempaths=unconfined"}),
        ({"Init": True}, {"init"}),
    ],
)
def test_inspect_is_read_in_the_words_of_a_declaration(
    host: dict[str, object], words: set[str]
) -> None:
    assert Grants.from_inspect({"HostConfig": host}).privileges.words() == words
