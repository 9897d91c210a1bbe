"""Golden files: the whole desired state of fixed configs, pinned.

Every container spec and every task (bootstrap, post-start, upgrade, backup, restore,
schema) of an all-in-one config, of the same with an upgrade's tags and slots, and of a
three-node inventory with HAProxy and an override, as the public data a spec is
compared by (file digests, volumes, health, privileges, …) and its hash. A refactor
that changes any of it changes what a deploy does: the test fails and names the spec.

To accept a change on purpose, regenerate and review the diff:

    COLLA_GOLDEN_UPDATE=1 .venv/bin/pytest tests/unit/test_golden.py

CI (``CI`` set) refuses to regenerate, so a change is never accepted silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from colla.catalog import load_services
from colla.config.example import write_example
from colla.deploy.desired import desired_state, image_refs, resolve_images
from colla.deploy.infra import backup_tasks, upgrade_tasks
from colla.model.services import ServiceCatalog
from colla.model.specs import ContainerSpec, NodeSpecs, TaskSpec, digest
from colla.model.topology import Topology
from colla.project import Project, load_project

_Spec = TypeVar("_Spec", bound=TaskSpec)
GOLDEN = Path(__file__).parent.parent / "data" / "golden"
UPDATE = "COLLA_GOLDEN_UPDATE"

MULTINODE_INVENTORY = """
[control]
ctl1 ansible_host=10.0.0.1
[network]
net1 ansible_host=10.0.0.2
[compute]
cmp1 ansible_host=10.0.0.3
[storage]
ctl1
[monitoring]
ctl1
"""
MULTINODE_GLOBALS = {
    'kolla_internal_vip_address: "127.0.0.1"': 'kolla_internal_vip_address: "10.0.0.250"',
    "#enable_haproxy: false": "enable_haproxy: true",
}
MULTINODE_TOPOLOGY = Topology(
    {"ctl1": "10.0.0.1", "net1": "10.0.0.2", "cmp1": "10.0.0.3"},
    "10.0.0.250",
    "10.0.0.1",
    tunnel_address={"net1": "10.1.0.2", "cmp1": "10.1.0.3"},
    virt_type="qemu",
    firewall_driver="noop",
)
AIO_TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")


def _config(path: Path, catalog: ServiceCatalog) -> Path:
    """``colla init``'s config with fixed passwords: generated ones would change every
    digest on every run."""
    write_example(path, catalog.defaults())
    keys = catalog.required_passwords(set(catalog.services))
    (path / "passwords.yml").write_text("".join(f"{k}: golden-{k}\n" for k in keys))
    return path


def _task_public(task: TaskSpec) -> dict[str, Any]:
    """What a task is made of, as ContainerSpec.public() gives it for containers."""
    return {
        "name": task.name,
        "service": task.service,
        "node": task.node,
        "image": task.image,
        "image_id": task.image_id,
        "config_dir": task.config_dir,
        "files": {
            f.name: digest(json.dumps([f.dest, f.owner, f.perm, f.content])) for f in task.files
        },
        "volumes": dict(task.volumes),
    }


def _placed(spec: _Spec) -> _Spec:
    """The spec as if its config dir were $CONFIG_DIR: the real one is under pytest's
    temporary directory, and the hash covers it."""
    return replace(spec, config_dir="$CONFIG_DIR/" + Path(spec.config_dir).name)


def _container(spec: ContainerSpec) -> dict[str, Any]:
    spec = _placed(spec)
    return {
        "kind": "container",
        "node": spec.node,
        "name": spec.name,
        "service": spec.service,
        "ports": list(spec.ports),
        "public": spec.public(),
        "spec_hash": spec.spec_hash,
    }


def _tasks(phase: str, service: str, tasks: Iterable[TaskSpec]) -> list[dict[str, Any]]:
    made = []
    for order, task in enumerate(tasks):
        public = _task_public(_placed(task))
        made.append(
            {
                "kind": "task",
                "phase": phase,
                "owner": service,
                "order": order,
                "node": task.node,
                "name": task.name,
                "public": public,
                "spec_hash": digest(json.dumps(public, sort_keys=True)),
            }
        )
    return made


def _fake_ids(refs: Iterable[str]) -> dict[str, str]:
    """The image IDs a fake engine would report: one per reference, stable."""
    return {ref: "sha256:" + digest(ref) for ref in refs}


def _state(
    project: Project,
    catalog: ServiceCatalog,
    topology: Topology,
    tags: Mapping[str, str] | None = None,
    alt: set[str] | None = None,
) -> list[dict[str, Any]]:
    nodes: dict[str, NodeSpecs] = desired_state(project, catalog, topology, tags, alt)
    nodes = resolve_images(nodes, _fake_ids(image_refs(nodes)))
    records: list[dict[str, Any]] = []
    for specs in nodes.values():
        records += [_container(c) for c in specs.containers]
        for service, steps in specs.tasks.items():
            records += _tasks("bootstrap", service, steps)
        for service, steps in specs.post.items():
            records += _tasks("post", service, steps)
    enabled = sorted(n for n in catalog.services if project.globals.enabled.get(n))
    for name in enabled:
        tag = (tags or {}).get(name)
        migrate, contract = upgrade_tasks(project, catalog, topology, name, tag)
        records += _tasks("migrate", name, migrate)
        records += _tasks("contract", name, contract)
        if catalog[name].databases:
            records += _tasks("backup", name, backup_tasks(project, catalog, topology, name, "g"))
    return sorted(records, key=lambda r: (r["kind"], r["node"], r["name"], r.get("phase", "")))


def _scenarios(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    catalog = load_services()
    aio = load_project(_config(tmp_path / "aio", catalog), catalog)
    multi_dir = _config(tmp_path / "multinode", catalog)
    (multi_dir / "inventory").write_text(MULTINODE_INVENTORY)
    globals_path = multi_dir / "globals.yml"
    text = globals_path.read_text()
    for old, new in MULTINODE_GLOBALS.items():
        assert old in text
        text = text.replace(old, new)
    globals_path.write_text(text)
    override = multi_dir / "config" / "global.conf"
    override.parent.mkdir()
    override.write_text("[DEFAULT]\ndebug = True\n")
    multi = load_project(multi_dir, catalog)
    return {
        "aio": _state(aio, catalog, AIO_TOPOLOGY),
        # An upgrade's desired state: new tags, the APIs on their alternate ports.
        "aio-upgrade": _state(
            aio, catalog, AIO_TOPOLOGY, {"glance": "next", "keystone": "next"}, {"glance"}
        ),
        "multinode": _state(multi, catalog, MULTINODE_TOPOLOGY),
    }


def _dump(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=1, sort_keys=True) + "\n"


def test_desired_state_matches_the_golden_files(tmp_path: Path) -> None:
    update = os.environ.get(UPDATE) == "1"
    if update and os.environ.get("CI"):
        pytest.fail(f"{UPDATE}=1 in CI: golden files are regenerated by hand and reviewed")
    for name, records in _scenarios(tmp_path).items():
        actual = _dump(records)
        path = GOLDEN / f"{name}.json"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            continue
        assert path.is_file(), f"{path} is missing: regenerate with {UPDATE}=1 (see module doc)"
        expected = json.loads(path.read_text())
        got = json.loads(actual)
        want = {(r["kind"], r["node"], r["name"], r.get("phase")): r for r in expected}
        have = {(r["kind"], r["node"], r["name"], r.get("phase")): r for r in got}
        assert sorted(have) == sorted(want), f"{name}: specs differ"
        for key, record in want.items():
            assert have[key] == record, f"{name}: {key} differs from {path}"
