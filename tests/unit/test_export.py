"""The Compose and Kubernetes generators as data: specs in, documents out."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from colla.catalog import load_services
from colla.config.example import write_example
from colla.config.passwords import generate_passwords
from colla.deploy.desired import desired_state, image_refs, resolve_images
from colla.errors import BadInput
from colla.export.compose import compose_tree
from colla.export.k8s import LABEL_APP, k8s_tree, manifests
from colla.export.output import OutFile, check_output_dir, write_tree
from colla.model.services import ServiceCatalog
from colla.model.specs import NodeSpecs
from colla.model.topology import Topology
from colla.outdir import MARKER
from colla.project import load_project

TOPOLOGY = Topology({"localhost": "127.0.0.1"}, "127.0.0.1", "127.0.0.1")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    catalog = load_services()
    directory = tmp_path / "config"
    write_example(directory, catalog.defaults())
    generate_passwords(
        directory / "passwords.yml", catalog.required_passwords(set(catalog.services))
    )
    return directory


def _nodes(config_dir: Path) -> tuple[dict[str, NodeSpecs], list[str]]:
    catalog = load_services()
    project = load_project(config_dir, catalog)
    nodes = desired_state(project, catalog, TOPOLOGY)
    ids = {ref: "sha256:" + f"{abs(hash(ref)):064x}"[:64] for ref in image_refs(nodes)}
    return resolve_images(nodes, ids), list(project.passwords.values.values())


def _compose(config_dir: Path, **options: Any) -> dict[str, OutFile]:
    nodes, _ = _nodes(config_dir)
    return compose_tree(nodes, load_services(), **options)


def _doc(tree: dict[str, OutFile]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(tree["localhost/docker-compose.yml"].content)
    return data


def test_compose_services_volumes_and_order(config_dir: Path) -> None:
    doc = _doc(_compose(config_dir))
    services = doc["services"]
    assert {"mariadb", "keystone", "glance_api", "task-keystone-bootstrap"} <= set(services)
    keystone = services["keystone"]
    assert keystone["network_mode"] == "host"
    assert keystone["image"].startswith("sha256:")
    assert keystone["depends_on"] == {
        "mariadb": {"condition": "service_healthy"},
        "memcached": {"condition": "service_healthy"},
        "task-keystone-bootstrap": {"condition": "service_completed_successfully"},
    }
    assert services["task-keystone-bootstrap"]["depends_on"] == {
        "task-keystone-databases": {"condition": "service_completed_successfully"}
    }
    assert services["task-keystone-databases"]["depends_on"] == {
        "mariadb": {"condition": "service_healthy"},
        "memcached": {"condition": "service_healthy"},
    }
    assert "keystone_fernet_keys:/etc/keystone/fernet-keys" in keystone["volumes"]
    assert "./config/keystone:/var/lib/colla/config:ro" in keystone["volumes"]
    assert keystone["healthcheck"]["test"][0] == "CMD-SHELL"
    assert keystone["labels"]["colla.service"] == "keystone"
    assert doc["volumes"]["mariadb"] == {"name": "mariadb"}


def test_compose_secrets_only_in_config_files(config_dir: Path) -> None:
    nodes, secrets = _nodes(config_dir)
    tree = compose_tree(nodes, load_services())
    text = tree["localhost/docker-compose.yml"].content.decode()
    assert not [s for s in secrets if s in text]
    conf = tree["localhost/config/keystone/keystone.conf"]
    assert conf.mode == 0o660
    assert any(s in conf.content.decode() for s in secrets)


def test_compose_output_is_stable_and_a_change_shows_only_itself(config_dir: Path) -> None:
    first = _compose(config_dir)
    assert _compose(config_dir) == first
    (config_dir / "config").mkdir()
    (config_dir / "config" / "glance.conf").write_text("[DEFAULT]\nworkers = 3\n")
    second = _compose(config_dir)
    changed = {path for path in first if first[path] != second.get(path)}
    # The override reaches every rendered glance-api.conf: the API's and db sync's.
    assert changed == {
        "localhost/docker-compose.yml",
        "localhost/config/glance_api/glance-api.conf",
        "localhost/config/glance-db-sync/glance-api.conf",
        "localhost/config/glance-load-metadefs/glance-api.conf",
    }
    old = first["localhost/docker-compose.yml"].content.decode().splitlines()
    new = second["localhost/docker-compose.yml"].content.decode().splitlines()
    differing = [b for a, b in zip(old, new, strict=True) if a != b]
    assert len(differing) == 2 and all("colla.spec" in line for line in differing)


def test_compose_data_containers(config_dir: Path) -> None:
    doc = _doc(_compose(config_dir, data_containers=True))
    assert "volumes" not in doc
    data = doc["services"]["colla_data"]
    assert "/var/lib/mysql" in data["volumes"] and data["command"] == ["true"]
    mariadb = doc["services"]["mariadb"]
    assert mariadb["volumes_from"] == ["colla_data"]
    assert mariadb["volumes"] == ["./config/mariadb:/var/lib/colla/config:ro"]


def test_compose_unknown_node(config_dir: Path) -> None:
    with pytest.raises(BadInput, match="--node nope: no such node"):
        _compose(config_dir, only="nope")


def _k8s(config_dir: Path, catalog: ServiceCatalog | None = None) -> dict[str, dict[str, Any]]:
    nodes, secrets = _nodes(config_dir)
    return manifests(nodes, catalog or load_services(), TOPOLOGY, secrets).objects


def test_every_manifest_validates_against_kubernetes_schemas(config_dir: Path) -> None:
    objects = _k8s(config_dir)
    version = kubernetes_validate.latest_version()
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)
    kinds = {obj["kind"] for obj in objects.values()}
    assert kinds == {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Service",
        "Job",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
    }


def test_manifest_structure(config_dir: Path) -> None:
    objects = _k8s(config_dir)
    nodes, secrets = _nodes(config_dir)
    specs = {c.name.replace("_", "-"): c for c in nodes["localhost"].containers}
    workloads = [
        o for o in objects.values() if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    ]
    assert {o["metadata"]["name"] for o in workloads} == set(specs)
    for obj in workloads:
        spec = specs[obj["metadata"]["name"]]
        template = obj["spec"]["template"]
        (container,) = template["spec"]["containers"]
        assert container["image"] == spec.image
        assert template["metadata"]["annotations"]["colla.io/image-id"] == spec.image_id
        assert template["metadata"]["annotations"]["colla.io/config-hash"] == spec.spec_hash
        security = container["securityContext"]
        assert security["privileged"] is False
        # Exactly the capabilities the catalog grants, nothing more.
        assert security.get("capabilities", {}).get("add", []) == list(spec.privileges.cap_add)
        assert template["spec"]["hostNetwork"] is True
    kinds = {o["metadata"]["name"]: o["kind"] for o in workloads}
    assert kinds["mariadb"] == kinds["rabbitmq"] == "StatefulSet"
    assert kinds["keystone"] == "Deployment"
    assert kinds["nova-compute"] == kinds["neutron-linuxbridge-agent"] == "DaemonSet"
    for obj in objects.values():
        if obj["kind"] == "ConfigMap":
            text = yaml.safe_dump(obj)
            assert not [s for s in secrets if s in text], obj["metadata"]["name"]
    keystone_secret = objects["keystone/secret-keystone-secret.yaml"]
    conf = base64.b64decode(keystone_secret["data"]["keystone.conf"]).decode()
    project = load_project(config_dir, load_services())
    assert project.passwords["keystone_database_password"] in conf
    assert (
        objects["mariadb/statefulset-mariadb.yaml"]["spec"]["volumeClaimTemplates"][0]["metadata"][
            "name"
        ]
        == "mariadb"
    )


def test_k8s_tree_lists_every_file_and_secrets_are_private(config_dir: Path) -> None:
    nodes, secrets = _nodes(config_dir)
    tree = k8s_tree(manifests(nodes, load_services(), TOPOLOGY, secrets))
    kustomization = yaml.safe_load(tree["kustomization.yaml"].content)
    assert sorted(kustomization["resources"]) == sorted(
        p for p in tree if p != "kustomization.yaml"
    )
    assert all(item.mode == 0o600 for path, item in tree.items() if "/secret-" in path)


def test_a_service_without_kubernetes_mapping_is_an_error(config_dir: Path) -> None:
    catalog = load_services()
    memcached = catalog["memcached"]
    unmapped = dataclasses.replace(
        memcached,
        containers=tuple(c.model_copy(update={"kubernetes": None}) for c in memcached.containers),
    )
    changed = ServiceCatalog(catalog.root, {**catalog.services, "memcached": unmapped})
    with pytest.raises(BadInput, match="container memcached has no Kubernetes mapping"):
        _k8s(config_dir, changed)


def test_output_dir_errors_and_nothing_half_written(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BadInput, match="exists and is not a directory"):
        check_output_dir(a_file)
    target = tmp_path / "out"
    write_tree(target, {"one.yml": OutFile(b"1")}, "test")
    with pytest.raises(BadInput, match="cannot write"):
        # "a" cannot be both a file and a directory: the write fails midway.
        write_tree(target, {"a": OutFile(b"x"), "a/b": OutFile(b"y")}, "test")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "one.yml"]
    write_tree(target, {"two.yml": OutFile(b"2")}, "test")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "two.yml"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_compose_bounds_every_containers_log(config_dir: Path) -> None:
    services = _doc(_compose(config_dir))["services"]
    long_running = [s for name, s in services.items() if not name.startswith("task-")]
    assert long_running
    for service in long_running:
        assert service["logging"] == {
            "driver": "json-file",
            "options": {"max-size": "50m", "max-file": "5"},
        }


def test_the_exporters_depend_on_the_model_not_on_deploy() -> None:
    # Compose and Kubernetes files are written from values (specs, catalog, topology);
    # reaching into deploy/ or engine/ would tie them to how colla itself deploys.
    import ast

    import colla.export

    for path in Path(colla.export.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("colla.deploy", "colla.engine")), path


def _workloads(objects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = ("Deployment", "StatefulSet", "DaemonSet", "Job")
    return [o for o in objects.values() if o["kind"] in kinds]


def test_deployments_and_statefulsets_run_on_the_host_their_config_names(
    config_dir: Path,
) -> None:
    """Their config holds the host's addresses (host networking): anywhere else in the
    group they would bind an address the node does not have."""
    objects = _k8s(config_dir)
    budgets = {
        o["metadata"]["name"] for o in objects.values() if o["kind"] == "PodDisruptionBudget"
    }
    for obj in _workloads(objects):
        pod = obj["spec"]["template"]["spec"]
        if obj["kind"] in ("Deployment", "StatefulSet"):
            assert pod["nodeSelector"] == {"colla.io/host": "localhost"}, obj["metadata"]
            assert obj["metadata"]["name"] in budgets
        elif obj["kind"] == "DaemonSet":
            assert "colla.io/host" not in pod.get("nodeSelector", {})
    budget = objects["mariadb/poddisruptionbudget-mariadb.yaml"]["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": {LABEL_APP: "mariadb"}}}


def test_no_pod_mounts_a_token_and_every_container_requests_resources(config_dir: Path) -> None:
    objects = _k8s(config_dir)
    for obj in _workloads(objects):
        pod = obj["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        for container in pod["containers"]:
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    keystone = objects["keystone/deployment-keystone.yaml"]["spec"]["template"]["spec"]
    assert keystone["containers"][0]["resources"]["requests"]["memory"] == "288Mi"


def test_a_jobs_name_follows_its_spec(config_dir: Path) -> None:
    """A Job's pod template cannot change: after a new tag, `kubectl apply -k` must
    create a new Job, not fail on the old one."""
    nodes, secrets = _nodes(config_dir)

    def jobs(found: dict[str, NodeSpecs]) -> set[str]:
        objects = manifests(found, load_services(), TOPOLOGY, secrets).objects
        return {o["metadata"]["name"] for o in objects.values() if o["kind"] == "Job"}

    before = jobs(nodes)
    assert jobs(nodes) == before  # the same specs, the same names
    retagged = {
        name: dataclasses.replace(
            node,
            tasks={
                service: tuple(
                    dataclasses.replace(t, image=t.image.replace(":zed", ":zed-2"))
                    if service == "keystone"
                    else t
                    for t in steps
                )
                for service, steps in node.tasks.items()
            },
        )
        for name, node in nodes.items()
    }
    after = jobs(retagged)
    changed = before - after
    assert changed and all(name.startswith("colla-task-keystone-") for name in changed)
    assert {n for n in after - before} and len(after) == len(before)
