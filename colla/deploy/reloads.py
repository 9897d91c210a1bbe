"""Config applied to a running container in place (the catalog's ``reload``: install,
check, signal or command), and the record that says so.

A container's labels are fixed when the engine creates it, so after a reload they
still describe the old files. The container itself keeps the spec it was reloaded to,
in its own filesystem (``RECORD``): it goes with the container, so a recreate forgets
it, and a restart keeps it (colla-start installs the same new files again). The planner
reads it in place of the labels, only for a container that declares a reload and whose
labels differ from what colla renders.
"""

from __future__ import annotations

import json
from dataclasses import replace

from colla.deploy.plan import Observed
from colla.deploy.tasks import last_lines
from colla.engine import Engine
from colla.errors import CollaError, EngineError
from colla.model.specs import LABEL_HASH, LABEL_SPEC, ContainerSpec

RECORD = "/var/lib/colla/reloaded.json"

# colla-start's own installer, run again in the container: the same owners, modes and
# atomic replacement as at start, from the config directory colla just wrote.
# COLLA_CONFIG moves config.json, as it does for colla-start itself.
START = "/usr/local/bin/colla-start"
_INSTALL = """\
import importlib.machinery, importlib.util, os, sys
loader = importlib.machinery.SourceFileLoader("colla_start", sys.argv[1])
start = importlib.util.module_from_spec(importlib.util.spec_from_loader("colla_start", loader))
sys.modules["colla_start"] = start  # its dataclasses look their module up there
loader.exec_module(start)
try:
    start.install_files(start.load_config(os.environ.get("COLLA_CONFIG", start.CONFIG_PATH)))
except start.StartError as e:
    sys.exit(f"colla-start: {e}")
"""

_RECORD = """\
import os, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(sys.argv[1])
os.replace(sys.argv[2], sys.argv[3])
"""


def as_reloaded(engine: Engine, observed: Observed, spec: ContainerSpec) -> Observed:
    """``observed`` with the labels of the spec it was last reloaded to, if it was, and
    if that matters (it declares a reload and its labels are not ``spec``'s)."""
    stale = observed.labels.get(LABEL_HASH) != spec.spec_hash
    if spec.reload is None or not stale or observed.state != "running" or not observed.managed:
        return observed
    try:
        code, out = engine.exec(observed.name, ["cat", RECORD])
    except EngineError:
        # Gone or stopped since it was listed: what the labels say is what it runs.
        return observed
    if code != 0:
        return observed  # never reloaded
    try:
        record = json.loads(out)
        labels = {
            **observed.labels,
            LABEL_HASH: str(record["hash"]),
            LABEL_SPEC: json.dumps(record["spec"], sort_keys=True),
        }
    except (ValueError, KeyError, TypeError):
        return observed  # unreadable: the labels say what colla knows for sure
    return replace(observed, labels=labels)


def reload(engine: Engine, spec: ContainerSpec) -> None:
    """Install ``spec``'s files (already in its config directory) in the running
    container, check them, apply them (a signal or a command), then record the spec.
    A failed check leaves the process on the config it had: nothing is applied."""
    assert spec.reload is not None
    how = spec.reload
    where = f"{spec.node}/{spec.name}"
    code, out = engine.exec(spec.name, ["python3", "-c", _INSTALL, START])
    if code != 0:
        raise CollaError(f"{where}: cannot install the new config files: {last_lines(out, 1)}")
    if how.check:
        code, out = engine.exec(spec.name, list(how.check))
        if code != 0:
            raise CollaError(
                f"{where}: the new config fails `{' '.join(how.check)}` "
                f"({last_lines(out, 1) or f'exit {code}'}); it still runs the old one"
            )
    if how.signal is not None:
        engine.signal(spec.name, how.signal)
    else:
        code, out = engine.exec(spec.name, list(how.command))
        if code != 0:
            raise CollaError(
                f"{where}: `{' '.join(how.command)}` failed "
                f"({last_lines(out, 1) or f'exit {code}'}); the new files are in place"
            )
    record = json.dumps({"hash": spec.spec_hash, "spec": spec.public()}, sort_keys=True)
    code, out = engine.exec(spec.name, ["python3", "-c", _RECORD, record, RECORD + ".new", RECORD])
    if code != 0:
        raise CollaError(f"{where}: cannot record the reload: {last_lines(out, 1)}")
