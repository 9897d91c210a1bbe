"""What this machine's kernel and CPU can do for compute and network hosts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Feature:
    """Whether the host has a feature, and the evidence, in words."""

    present: bool
    reason: str


def kvm(root: Path = Path("/")) -> Feature:
    """Hardware virtualisation that libvirt can use for KVM guests.

    /dev/kvm alone is not enough: a nested or paravirtual KVM (such as PVM) offers the
    device without VMX/SVM, and libvirt's guests crash on it, so the CPU flags decide.
    """
    if not (root / "dev/kvm").exists():
        return Feature(False, "/dev/kvm does not exist")
    try:
        flags = {
            flag
            for line in (root / "proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
            for flag in line.split(":", 1)[1].split()
        }
    except OSError as e:
        return Feature(False, f"cannot read /proc/cpuinfo: {e.strerror}")
    if not flags & {"vmx", "svm"}:
        return Feature(False, "/dev/kvm exists but the CPU has no vmx/svm flag (paravirtual KVM)")
    return Feature(True, "/dev/kvm exists and the CPU has vmx/svm")


def bridge_netfilter(root: Path = Path("/")) -> Feature:
    """br_netfilter: iptables sees bridged traffic, so security groups can be enforced."""
    if (root / "proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        return Feature(True, "br_netfilter is loaded")
    return Feature(False, "br_netfilter is not loaded (no /proc/sys/net/bridge)")


def openvswitch(root: Path = Path("/")) -> Feature:
    """The Open vSwitch kernel datapath."""
    if (root / "sys/module/openvswitch").exists():
        return Feature(True, "the openvswitch kernel module is loaded")
    return Feature(False, "the openvswitch kernel module is not loaded")


@dataclass(frozen=True)
class Size:
    """How much of this machine colla's processes may count on."""

    cpus: int
    memory_gib: float


def size(root: Path = Path("/")) -> Size:
    """The CPUs this process may run on and the machine's memory (MemTotal)."""
    try:
        cpus = len(os.sched_getaffinity(0)) if root == Path("/") else _cpuinfo_count(root)
    except OSError:
        cpus = os.cpu_count() or 1
    return Size(max(1, cpus), _memory_gib(root))


def _cpuinfo_count(root: Path) -> int:
    text = (root / "proc/cpuinfo").read_text()
    return sum(1 for line in text.splitlines() if line.startswith("processor"))


def _memory_gib(root: Path) -> float:
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    # Unknown: assume a small machine, so that defaults stay lean rather than overcommit.
    return 4.0
