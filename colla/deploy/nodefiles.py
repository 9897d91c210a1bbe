"""A node's config directories: on this machine through the filesystem, on another
machine through its engine (a helper container from an image the node has)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from colla.deploy.specs import TaskSpec
from colla.engine import Engine
from colla.engine.transfer import FileEntry
from colla.errors import EngineError

SNAPSHOT_SUFFIX = ".colla-old"
HELPER_MOUNT = "/colla-parent"


def write_config(engine: Engine, spec: TaskSpec) -> None:
    """Write ``spec``'s config directory on the node of ``engine``."""
    if engine.remote:
        entries = [FileEntry(f.name, f.content.encode(), 0o660) for f in spec.files]
        engine.write_directory(spec.config_dir, entries, spec.image_id)
        return
    # Imported here: apply imports this module's callers, not the other way round.
    from colla.deploy.apply import write_config_dir

    write_config_dir(Path(spec.config_dir), spec.files)


def snapshot(engine: Engine, spec: TaskSpec) -> None:
    """Keep a copy of the directory (once) so that a revert can put it back."""
    directory, copy = spec.config_dir, spec.config_dir + SNAPSHOT_SUFFIX
    if not engine.remote:
        if Path(directory).is_dir() and not Path(copy).exists():
            shutil.copytree(directory, copy)
        return
    _shell(engine, spec, 'if [ -d "$D" ] && [ ! -e "$C" ]; then cp -a "$D" "$C"; fi')


def restore(engine: Engine, spec: TaskSpec) -> None:
    """Put the snapshot back in place of the directory, if there is one."""
    directory, copy = spec.config_dir, spec.config_dir + SNAPSHOT_SUFFIX
    if not engine.remote:
        if Path(copy).is_dir():
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
