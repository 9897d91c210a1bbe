"""The planner as data: desired specs and observed containers in, changes out.

Each file in plan_cases/ is one case. A desired container is a compact spec; an
observed container is either ``as: <compact spec>`` (a container colla created from
that spec) or raw ``name``/``labels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from colla.deploy.plan import Observed, make_plan
from colla.errors import BadInput
from colla.model.specs import ContainerSpec, Healthcheck, NodeSpecs, RenderedFile

CASES = sorted((Path(__file__).parent / "plan_cases").glob("*.yaml"))
NODE = "node1"


def spec(data: dict[str, Any]) -> ContainerSpec:
    """A ContainerSpec from a compact description; unspecified fields are constant."""
    files = data.get("files", {"main.conf": "x = 1\n"})
    image = data.get("image", f"colla/{data['service']}:zed")
    return ContainerSpec(
        name=data["name"],
        service=data["service"],
        node=data.get("node", NODE),
        image=image,
        image_id=data.get("image_id", "sha256:0123456789abcdef"),
        config_dir=f"/etc/colla/{data['name']}",
        files=tuple(RenderedFile(n, f"/etc/{n}", "root", "0600", c) for n, c in files.items()),
        volumes=tuple(sorted(data.get("volumes", {}).items())),
        environment=tuple(sorted(data.get("environment", {}).items())),
        healthcheck=Healthcheck("true", 5, 5, 3, 60),
        secrets=tuple(sorted((k, str(v)) for k, v in data.get("secrets", {}).items())),
    )


def observed(data: dict[str, Any]) -> Observed:
    if "as" in data:
        made = spec(data["as"])
        return Observed(made.name, made.node, data.get("state", "running"), made.labels())
    return Observed(data["name"], NODE, data.get("state", "running"), data["labels"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    desired = {NODE: NodeSpecs(NODE, tuple(spec(d) for d in case["desired"]), {})}
    seen: dict[str, list[Observed]] = {}
    for item in case["observed"]:
        o = observed(item)
        seen.setdefault(o.node, []).append(o)
    enabled = set(case.get("enabled", [d["service"] for d in case["desired"]]))
    if "error" in case:
        with pytest.raises(BadInput, match=case["error"]):
            make_plan(desired, seen, enabled)
        return
    plan = make_plan(desired, seen, enabled)
    got = [[str(c.action), c.name, list(c.reasons)] for c in plan.changes]
    assert sorted(got) == sorted(case["expected"]), case["description"]


def test_noop_plan_reports_noop() -> None:
    one = spec({"name": "a", "service": "a"})
    plan = make_plan(
        {NODE: NodeSpecs(NODE, (one,), {})},
        {NODE: [Observed("a", NODE, "running", one.labels())]},
        {"a"},
    )
    assert plan.is_noop and plan.services_changed() == set()


def test_labels_hold_no_file_contents() -> None:
    secret = "s3cr3t-password-value"
    made = spec({"name": "a", "service": "a", "files": {"a.conf": f"password = {secret}\n"}})
    assert all(secret not in value for value in made.labels().values())
    other = spec({"name": "a", "service": "a", "files": {"a.conf": "password = other\n"}})
    assert made.spec_hash != other.spec_hash
