"""A backup archive: what it holds, how it is written, and how it is read back.

An archive is a gzipped tar whose first member is ``manifest.json``: the deployment it
belongs to, when and how it was made, each database's tables with their row counts,
and the SHA-256 and size of every other member. Reading one checks all of that before
anything is restored, so a truncated, altered or foreign archive is refused whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

import pydantic

from colla.errors import BadInput

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "databases.sql"
HISTORY = "history.sqlite"
CONFIG = "config"  # the config directory's files, under their relative paths
VOLUMES = "volumes"  # one tar per volume, as the engine gave it (owners and modes kept)
SUFFIX = ".tar.gz"
_PREFIX = "colla-backup-"


class Manifest(pydantic.BaseModel):
    """What an archive says about itself."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    format: int
    deployment: str
    created: str
    colla_version: str
    release: str
    # How the databases were dumped, for the operator who reads the manifest.
    dump: str
    # database → table → rows, counted from the dump itself.
    databases: dict[str, dict[str, int]]
    # volume (before the deployment's prefix) → the service whose first host holds it.
    volumes: dict[str, str]
    # member → [sha256, size]
    files: dict[str, tuple[str, int]]
    # True when the dump was loaded into a scratch server and every table had its rows.
    verified: bool


def archive_name(deployment: str, created: str) -> str:
    """An archive's file name: the deployment's first 12 hex digits and the UTC time
    (``2026-12-07T05:00:00Z``), so that names sort by time and `--keep` finds its own."""
    stamp = created.replace("-", "").replace(":", "")
    return f"{_PREFIX}{deployment[:12]}-{stamp}{SUFFIX}"


def own_archives(directory: Path, deployment: str) -> list[Path]:
    """This deployment's archives in ``directory`` by colla's naming, oldest first."""
    pattern = re.compile(
        re.escape(f"{_PREFIX}{deployment[:12]}-") + r"\d{8}T\d{6}Z" + re.escape(SUFFIX) + "$"
    )
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if pattern.match(p.name) and p.is_file())


def prunable(directory: Path, deployment: str, keep: int) -> list[Path]:
    """The archives ``--keep keep`` removes: all but the newest ``keep`` of this
    deployment's (another deployment's, and files colla did not name, are never touched)."""
    found = own_archives(directory, deployment)
    return found[: max(0, len(found) - keep)]


_NAME = rb"`((?:[^`]|``)+)`"
_USE = re.compile(rb"^USE " + _NAME + rb";")
_CREATE = re.compile(rb"^CREATE TABLE " + _NAME + rb" \(")
_INSERT = re.compile(rb"^INSERT INTO " + _NAME + rb" VALUES ")


def _name(raw: bytes) -> str:
    return raw.replace(b"``", b"`").decode("utf-8", "replace")


def count_rows(lines: Iterable[bytes]) -> dict[str, dict[str, int]]:
    """Each database's tables and their rows, read from a dump made with one row per
    INSERT (``--skip-extended-insert``; a newline inside a value is written ``\\n``, so
    every row is one line)."""
    found: dict[str, dict[str, int]] = {}
    database: str | None = None
    for line in lines:
        if match := _INSERT.match(line):
            if database is not None:
                table = _name(match.group(1))
                found[database][table] = found[database].get(table, 0) + 1
        elif match := _CREATE.match(line):
            if database is not None:
                found[database].setdefault(_name(match.group(1)), 0)
        elif match := _USE.match(line):
            database = _name(match.group(1))
            found.setdefault(database, {})
    return found


def sha256_of(path: Path) -> tuple[str, int]:
    """A file's SHA-256 (hex) and size."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def members_of(staged: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``staged`` (relative POSIX path) with its checksum and size."""
    return {
        path.relative_to(staged).as_posix(): sha256_of(path)
        for path in sorted(staged.rglob("*"))
        if path.is_file()
    }


def write_archive(path: Path, manifest: Manifest, staged: Path) -> None:
    """Write the archive (mode 0600) of ``staged``'s files, the manifest first.

    It is written beside its final name and renamed once complete and on disk: an
    archive under its name is whole, and a failure leaves no part behind."""
    part = path.with_name(path.name + ".part")
    try:
        fd = os.open(part, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest.model_dump(), indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            info.mode = 0o600
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(body))
            for member in sorted(manifest.files):
                # Secrets inside (passwords, keys): private when an operator untars it.
                tar.add(staged / member, arcname=member, recursive=False, filter=_private)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            part.unlink()
        raise BadInput(f"{path}: cannot write the backup: {e.strerror or e}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600 if info.isfile() else 0o700
    return info


def _safe_member(info: tarfile.TarInfo) -> bool:
    path = PurePosixPath(info.name)
    return (
        (info.isfile() or info.isdir())
        and not path.is_absolute()
        and ".." not in path.parts
        and info.name not in ("", ".")
    )


@contextlib.contextmanager
def opened(path: Path) -> Iterator[tuple[Manifest, Path]]:
    """The archive's manifest and a private directory (mode 0700) holding its members,
    each checked against the manifest; BadInput naming the archive when it is not a
    whole colla backup. The directory is removed afterwards."""
    if not path.is_file():
        raise BadInput(f"{path}: no such backup archive")
    scratch = Path(tempfile.mkdtemp(prefix="colla-restore-"))
    try:
        manifest = _extract(path, scratch)
        yield manifest, scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(path: Path, scratch: Path) -> Manifest:
    broken = f"{path}: not a whole colla backup"
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BadInput(f"{broken} (it does not begin with {MANIFEST})")
            handle = tar.extractfile(first)
            assert handle is not None
            manifest = _manifest(path, handle.read())
            seen = set()
            while (info := tar.next()) is not None:
                if not _safe_member(info) or info.name == MANIFEST:
                    raise BadInput(f"{broken} (unexpected member {info.name!r})")
                if info.isdir():
                    continue
                if info.name not in manifest.files:
                    raise BadInput(f"{broken} (member {info.name!r} is not in its manifest)")
                tar.extract(info, scratch, filter="data")
                seen.add(info.name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise BadInput(f"{broken} ({_reason(e)})") from None
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BadInput(f"{broken} (missing {', '.join(missing[:3])}: truncated?)")
    for member, expected in manifest.files.items():
        if sha256_of(scratch / member) != tuple(expected):
            raise BadInput(f"{broken} ({member} does not match its checksum)")
    return manifest


def _reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "it ends too early: truncated"
    text = str(error) or type(error).__name__
    return text if "truncat" in text or "end" in text else f"{text}: truncated or damaged?"


def _manifest(path: Path, data: bytes) -> Manifest:
    try:
        manifest = Manifest.model_validate(json.loads(data))
    except (ValueError, pydantic.ValidationError) as e:
        first = str(e).splitlines()[0]
        raise BadInput(f"{path}: {MANIFEST} is not a colla backup manifest ({first})") from None
    if manifest.format != FORMAT:
        raise BadInput(f"{path}: backup format {manifest.format}, this colla reads format {FORMAT}")
    return manifest
