"""Benchmark of ``colla upgrade keystone`` and ``colla rollback keystone`` under load.

A bounded loop of token requests (about 20 per second, loopback only: validations of
one admin token, since issuing a token costs a password hash that two cores cannot do
20 times a second) runs during the upgrade and during the rollback, through HAProxy when
it is enabled, else directly (the stop-first swap). Prints requests sent, requests
failed, the longest gap between two successful requests, and each operation's duration.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from colla.site import load_site

INTERVAL = 0.05
TIMEOUT = 0.5
MAX_SECONDS = 900
WORKERS = 16


@dataclass
class Poller:
    """Requests a token every INTERVAL seconds until stopped (or MAX_SECONDS pass)."""

    url: str
    token: str
    sent: int = 0
    failed: int = 0
    successes: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _one(self) -> None:
        request = urllib.request.Request(
            self.url, headers={"X-Auth-Token": self.token, "X-Subject-Token": self.token}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
            with self.lock:
                self.successes.append(time.monotonic())
        except (OSError, urllib.error.URLError):
            with self.lock:
                self.failed += 1

    def run(self) -> None:
        # A fixed schedule, each request on its own worker, so a slow or failing request
        # does not lower the rate.
        deadline = time.monotonic() + MAX_SECONDS
        next_at = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
            while not self.stop.is_set() and time.monotonic() < deadline:
                self.sent += 1
                pool.submit(self._one)
                next_at += INTERVAL
                time.sleep(max(0.0, next_at - time.monotonic()))

    def longest_gap(self) -> float:
        done = sorted(self.successes)
        gaps = [b - a for a, b in itertools.pairwise(done)]
        return max(gaps, default=0.0)


def _token(url: str, body: bytes) -> str:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["X-Subject-Token"])


def _measure(colla: str, args: list[str], url: str, token: str) -> tuple[float, Poller]:
    poller = Poller(url, token)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    time.sleep(1.0)
    started = time.monotonic()
    subprocess.run([colla, *args], check=True, stdout=subprocess.DEVNULL)
    duration = time.monotonic() - started
    time.sleep(1.0)
    poller.stop.set()
    thread.join()
    return duration, poller


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--colla", default=str(Path(sys.executable).parent / "colla"))
    parser.add_argument("--config-dir", default="/etc/colla", type=Path)
    parser.add_argument("--tag", default="zed-bench")
    args = parser.parse_args()
    colla, config_dir = args.colla, args.config_dir
    site = load_site(config_dir)
    project, topo = site.project, site.topology
    with tempfile.TemporaryDirectory() as tmp:
        override = Path(tmp) / "bench.j2"
        override.write_text(
            "{% block keystone_footer %}RUN echo bench > /etc/colla-bench{% endblock %}\n"
        )
        subprocess.run(
            [colla, "build", "^keystone$", "--tag", args.tag, "--template-override", str(override)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    auth = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": project.passwords["keystone_admin_password"],
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    body = json.dumps(auth).encode()
    # Behind HAProxy an upgrade moves the API to the other port, so the direct address
    # is measured only without HAProxy (the stop-first swap); run both configurations.
    if project.globals.enabled.get("haproxy"):
        targets = {"haproxy": f"http://{topo.internal_address}:5000/v3/auth/tokens"}
    else:
        control = project.inventory.hosts_in("control")[0].name
        targets = {"direct": f"http://{topo.api_address[control]}:5000/v3/auth/tokens"}
    c = ["-c", str(config_dir)]
    print(
        f"{'path':<9}{'operation':<10}{'seconds':>9}{'sent':>7}{'failed':>8}{'longest gap s':>15}"
    )
    for name, url in targets.items():
        for label, command in (
            ("upgrade", ["upgrade", "keystone", "--tag", args.tag, *c]),
            ("rollback", ["rollback", "keystone", "--yes", *c]),
        ):
            duration, poller = _measure(colla, command, url, _token(url, body))
            print(
                f"{name:<9}{label:<10}{duration:>9.1f}{poller.sent:>7}{poller.failed:>8}"
                f"{poller.longest_gap():>15.2f}"
            )
    print()
    print(
        "goals: 0 failed requests through HAProxy; stop-first gap <= 3 s; rollback serving <= 10 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
