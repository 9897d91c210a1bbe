"""A request's CPU weight reaches the container's cgroup on the real engine."""

from __future__ import annotations

import pytest

from colla.engine import ContainerRequest, Engine

pytestmark = pytest.mark.docker

# cgroup v1 keeps the shares as given; v2 keeps a weight Docker converts them to
# (1 + (shares - 2) * 9999 / 262142: 64 → 3, and 1024 → 39).
READ = "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight"


@pytest.mark.parametrize(("shares", "seen"), [(64, {"64", "3"}), (None, {"1024", "39", "100"})])
def test_a_background_task_gets_a_low_cpu_weight(
    engine: Engine, base_image: str, shares: int | None, seen: set[str]
) -> None:
    request = ContainerRequest(
        name="colla-it-cpu-shares",
        image=base_image,
        command=("sh", "-c", READ),
        restart=None,
        cpu_shares=shares,
    )
    code, output = engine.run_to_completion(request)
    assert code == 0, output
    assert output.strip() in seen, output
