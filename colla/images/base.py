"""The offline base OS image: debootstrap from a Debian mirror, then ``docker import``."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from colla.engine import Engine
from colla.errors import BadInput, CollaError

Say = Callable[[str], None]
LABEL_PREFIX = "colla.base"


@dataclass(frozen=True)
class BaseSettings:
    """How to make the base OS image."""

    ref: str = "colla/debian:bookworm"
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    from_image: str | None = None
    rebuild: bool = False
    workdir: Path = Path("/var/tmp")


@dataclass(frozen=True)
class BaseResult:
    """What ``colla base`` did."""

    ref: str
    image_id: str
    size: int
    action: str  # "reused", "debootstrap" or "pulled"
    seconds: float


def split_ref(ref: str) -> tuple[str, str]:
    """``repo:tag`` → (repo, tag); a missing tag is ``latest``."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return name, tag


def ensure_base(engine: Engine, settings: BaseSettings, say: Say) -> BaseResult:
    """Reuse, pull or debootstrap the base image named ``settings.ref``."""
    started = datetime.datetime.now()

    def done(image_id: str, action: str) -> BaseResult:
        info = engine.image(image_id)
        seconds = (datetime.datetime.now() - started).total_seconds()
        return BaseResult(settings.ref, image_id, info.size if info else 0, action, seconds)

    existing = engine.image(settings.ref)
    if existing is not None and not settings.rebuild:
        say(f"reusing {settings.ref} ({existing.id[7:19]}); --rebuild makes a new one")
        return done(existing.id, "reused")
    repository, tag = split_ref(settings.ref)
    if settings.from_image:
        say(f"pulling {settings.from_image}")
        image_id = engine.pull(settings.from_image)
        engine.tag(image_id, repository, tag)
        return done(image_id, "pulled")
    _check_can_debootstrap()
    with tempfile.TemporaryDirectory(prefix="colla-base-", dir=settings.workdir) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log = Path(tmp) / "debootstrap.log"
        say(f"debootstrap --variant=minbase {settings.suite} from {settings.mirror}")
        _debootstrap(settings, rootfs, log)
        _clean(rootfs)
        tarball = Path(tmp) / "rootfs.tar"
        say("packing the root filesystem")
        _pack(rootfs, tarball)
        say(f"importing as {settings.ref}")
        today = datetime.date.today().isoformat()
        changes = [
            f'LABEL {LABEL_PREFIX}.suite="{settings.suite}" '
            f'{LABEL_PREFIX}.mirror="{settings.mirror}" {LABEL_PREFIX}.date="{today}"',
            "ENV LANG=C.UTF-8",
            'CMD ["/bin/bash"]',
        ]
        image_id = engine.import_tarball(tarball, repository, tag, changes)
    return done(image_id, "debootstrap")


def _check_can_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise CollaError(
            "debootstrap is not installed (apt-get install debootstrap, or `make setup`); "
            "or use --from IMAGE with a registry"
        )
    if os.geteuid() != 0:
        raise CollaError("colla base needs root to run debootstrap (or use --from IMAGE)")


def _debootstrap(settings: BaseSettings, rootfs: Path, log: Path) -> None:
    command = [
        "debootstrap",
        "--variant=minbase",
        settings.suite,
        str(rootfs),
        settings.mirror,
    ]
    with log.open("wb") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        hint = "; ".join(line.strip() for line in tail)
        if "Invalid Release" in hint or "Failed getting release" in hint:
            raise BadInput(
                f"debootstrap could not read suite {settings.suite!r} from "
                f"{settings.mirror}: {hint}"
            )
        raise CollaError(f"debootstrap failed (exit {result.returncode}): {hint}")


def _clean(rootfs: Path) -> None:
    # debootstrap leaves ~80 MB of package lists and downloaded .debs; no later layer could
    # take them back, so they go before the import.
    for directory in ("var/lib/apt/lists", "var/cache/apt", "var/log"):
        target = rootfs / directory
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != "lock":
                    child.unlink()
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _pack(rootfs: Path, tarball: Path) -> None:
    result = subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise CollaError(f"packing {rootfs} failed: {result.stderr.decode(errors='replace')}")
