"""A node's config directories: on this machine through the filesystem, on another
machine through its engine (a helper container from an image the node has)."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from colla.engine import Engine
from colla.engine.transfer import FileEntry
from colla.errors import BadInput, CollaError, EngineError
from colla.model.specs import NodeSpecs, RenderedFile, TaskSpec

SNAPSHOT_SUFFIX = ".colla-old"
HELPER_MOUNT = "/colla-parent"


def own_directory(directory: Path) -> None:
    """Refuse a container's config directory that colla would write through a link.

    colla replaces the files of this directory and deletes the others: a symbolic link
    in its place (to /etc, say) had unrelated files deleted. A missing directory is
    fine (colla makes it); a link inside it, or something else in its place, is not.
    """
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise BadInput(
            f"{directory}: is a symbolic link; colla writes a container's config only "
            "into a directory of its own"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise BadInput(f"{directory}: is in the place of a container's config directory")
    for entry in sorted(directory.iterdir()):
        if entry.is_symlink():
            raise BadInput(f"{entry}: is a symbolic link in a container's config directory")


def check_own_directories(nodes: Iterable[NodeSpecs]) -> None:
    """:func:`own_directory` for every container's and task's directory of ``nodes``."""
    for specs in nodes:
        for spec in specs.with_config():
            own_directory(Path(spec.config_dir))


def write_config_dir(directory: Path, files: tuple[RenderedFile, ...]) -> bool:
    """Make ``directory`` hold exactly ``files`` (0770 dir, 0660 files); True if it changed.

    Unchanged files are not touched, so a no-change deploy writes nothing. Each file is
    replaced atomically: a crash, a full disk or a read-only directory leaves the old or
    the new file, never half of one. Nothing is written through a symbolic link.
    """
    own_directory(directory)
    try:
        return _write_files(directory, files)
    except OSError as e:
        where = e.filename or directory
        raise CollaError(f"{where}: cannot write a container's config: {e.strerror}") from None


def config_differs(directory: Path, files: tuple[RenderedFile, ...]) -> bool:
    """Whether :func:`write_config_dir` would change anything in ``directory``: the
    planner's view of this machine's config directories."""
    try:
        if directory.stat().st_mode & 0o777 != 0o770:
            return True
        wanted = {f.name: f.content.encode() for f in files}
        if any(not _same(directory / name, content) for name, content in wanted.items()):
            return True
        return any(_stale(entry, wanted) for entry in directory.iterdir())
    except OSError:
        # Missing or unreadable: writing it is the way to find out, and to say why.
        return True


def _same(path: Path, content: bytes) -> bool:
    try:
        return path.read_bytes() == content and path.stat().st_mode & 0o777 == 0o660
    except FileNotFoundError:
        return False


def _stale(entry: Path, wanted: dict[str, bytes]) -> bool:
    return entry.is_file() and entry.name not in wanted and not entry.name.startswith(".")


def _write_files(directory: Path, files: tuple[RenderedFile, ...]) -> bool:
    changed = False
    directory.mkdir(parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o777 != 0o770:
        directory.chmod(0o770)
    wanted = {f.name: f.content.encode() for f in files}
    for name, content in sorted(wanted.items()):
        path = directory / name
        if _same(path, content):
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o660)
            os.replace(tmp, path)
        except OSError as e:
            # The temporary file's name means nothing to the operator; the file's does.
            raise OSError(e.errno, e.strerror, str(path)) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        changed = True
    for stale in directory.iterdir():
        if _stale(stale, wanted):
            stale.unlink()
            changed = True
    return changed


def write_config(engine: Engine, spec: TaskSpec) -> None:
    """Write ``spec``'s config directory on the node of ``engine``."""
    if engine.remote:
        entries = [FileEntry(f.name, f.content.encode(), 0o660) for f in spec.files]
        engine.write_directory(spec.config_dir, entries, spec.image_id)
        return
    write_config_dir(Path(spec.config_dir), spec.files)


def snapshot(engine: Engine, spec: TaskSpec) -> None:
    """Keep a copy of the directory (once) so that a revert can put it back."""
    directory, copy = spec.config_dir, spec.config_dir + SNAPSHOT_SUFFIX
    if not engine.remote:
        own_directory(Path(directory))
        if Path(directory).is_dir() and not Path(copy).exists():
            shutil.copytree(directory, copy)
        return
    _shell(engine, spec, 'if [ -d "$D" ] && [ ! -e "$C" ]; then cp -a "$D" "$C"; fi')


def restore(engine: Engine, spec: TaskSpec) -> None:
    """Put the snapshot back in place of the directory, if there is one."""
    directory, copy = spec.config_dir, spec.config_dir + SNAPSHOT_SUFFIX
    if not engine.remote:
        if Path(copy).is_dir():
            own_directory(Path(directory))
            shutil.rmtree(directory, ignore_errors=True)
            Path(copy).rename(directory)
        return
    _shell(engine, spec, 'if [ -d "$C" ]; then rm -rf "$D" && mv "$C" "$D"; fi')


def drop_snapshot(engine: Engine, spec: TaskSpec) -> None:
    """Forget the snapshot."""
    if not engine.remote:
        shutil.rmtree(spec.config_dir + SNAPSHOT_SUFFIX, ignore_errors=True)
        return
    _shell(engine, spec, 'rm -rf "$C"')


def _shell(engine: Engine, spec: TaskSpec, script: str) -> None:
    parent, _, leaf = spec.config_dir.rstrip("/").rpartition("/")
    inside = f"{HELPER_MOUNT}/{leaf}"
    command = f"D={shlex.quote(inside)}; C={shlex.quote(inside + SNAPSHOT_SUFFIX)}; {script}"
    result = engine.run(
        spec.image_id, ["sh", "-c", command], entrypoint=[], binds={parent: HELPER_MOUNT}
    )
    if result.exit_code != 0:
        raise EngineError(f"{spec.node}: {spec.config_dir}: {result.output.strip()}")
