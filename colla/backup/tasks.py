"""The one-shot tasks of a backup and a restore, run on the database server's first
host in its image: the dump of every database, its proof in a scratch server, the load
of a restore into the server's own volume, and the removal of the dump they leave.

What they run is the catalog's ``database_server`` entry (found by role), not code
that knows MariaDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from colla.deploy.escape import shell
from colla.deploy.infra import BACKUP_MOUNT, BACKUP_VOLUME, TASK_DIR
from colla.deploy.taskspecs import Run, task_spec
from colla.deploy.templates import ServiceRenderer
from colla.errors import BadInput
from colla.model.catalog import DatabaseServerDef
from colla.model.services import ServiceDef
from colla.model.specs import RenderedFile, TaskSpec
from colla.site import Site

SCRATCH_DATADIR = "/tmp/colla-scratch"  # inside the proof's container, gone with it


@dataclass(frozen=True)
class DatabaseHost:
    """The database server, how colla's tasks use it, and where they run."""

    site: Site
    server: ServiceDef
    how: DatabaseServerDef
    node: str

    @property
    def renderer(self) -> ServiceRenderer:
        site = self.site
        return ServiceRenderer(site.project, site.catalog, site.topology, self.server)

    @property
    def image(self) -> str:
        return self.server.containers[0].image

    @property
    def datadir(self) -> str:
        """Where the server's container mounts its data volume."""
        for container in self.server.containers:
            if self.how.data_volume in container.volumes:
                return container.volumes[self.how.data_volume]
        raise BadInput(
            f"{self.server.directory / 'service.yaml'}: data_volume "
            f"'{self.how.data_volume}' is not a volume of its containers"
        )


def database_host(site: Site) -> DatabaseHost:
    """The site's database server and the host colla's database tasks run on."""
    server, how = site.catalog.database_server()
    return DatabaseHost(site, server, how, server.first_host(site.project.inventory).name)


def backed_up_databases(site: Site) -> list[str]:
    """Every database of the enabled services, in catalog order."""
    return [db.name for name in sorted(site.enabled) for db in site.catalog[name].databases]


def _task(
    db: DatabaseHost,
    suffix: str,
    command: str,
    files: Sequence[RenderedFile] = (),
    volumes: Mapping[str, str] | None = None,
) -> TaskSpec:
    where = (f"{db.server.name}-{suffix}", db.server.name, db.node)
    named = {BACKUP_VOLUME: BACKUP_MOUNT, **(volumes or {})}
    return task_spec(db.site.project, where, db.image, list(files), Run(command), named)


def dump_task(db: DatabaseHost, databases: Sequence[str], dump: str) -> TaskSpec:
    """Dump ``databases`` into the backups volume as ``dump`` (a file name there)."""
    r = db.renderer
    client_def = db.how.client_config
    client = RenderedFile(
        client_def.name,
        client_def.dest,
        client_def.owner,
        client_def.perm,
        r.env.get_template(client_def.template).render(r.context(db.node)),
    )
    command = r.env.from_string(db.how.dump).render(
        databases=list(databases), dump=f"{BACKUP_MOUNT}/{dump}"
    )
    return _task(db, "backup-dump", command, [client, *r.ca_files()])


def _load_files(db: DatabaseHost, counts: str) -> list[RenderedFile]:
    r = db.renderer
    script = db.how.load_script
    content = r.env.get_template(script.template).render(r.context(db.node))
    files = [RenderedFile(script.name, script.dest, "root", "0700", content)]
    if counts:
        files.append(RenderedFile("counts.sql", f"{TASK_DIR}/counts.sql", "root", "0600", counts))
    return files


def count_queries(db: DatabaseHost, tables: Mapping[str, Mapping[str, int]]) -> str:
    """The counts file: one query per table that prints its database, name and rows."""
    template = db.renderer.env.from_string(db.how.count_query)
    return "".join(
        template.render(database=database, table=table) + "\n"
        for database, names in sorted(tables.items())
        for table in sorted(names)
    )


def proof_task(db: DatabaseHost, dump: str, counts: str) -> TaskSpec:
    """Load the dump into a scratch server inside the task's own container, and print
    each table's rows."""
    script = db.how.load_script.dest
    command = f"sh {script} {SCRATCH_DATADIR} {BACKUP_MOUNT}/{dump} {TASK_DIR}/counts.sql"
    return _task(db, "backup-proof", command, _load_files(db, counts))


def load_task(db: DatabaseHost, dump: str) -> TaskSpec:
    """Load the dump into the server's own data volume (no server may run on it)."""
    script = db.how.load_script.dest
    datadir = db.datadir
    command = f"sh {script} {datadir} {BACKUP_MOUNT}/{dump} ''"
    return _task(db, "restore-load", command, _load_files(db, ""), {db.how.data_volume: datadir})


def remove_task(db: DatabaseHost, *dumps: str) -> TaskSpec:
    """Remove dumps (file names, and any part of them) from the backups volume."""
    paths = [f"{BACKUP_MOUNT}/{dump}" for dump in dumps]
    words = " ".join(shell(p) for path in paths for p in (path, f"{path}.part"))
    return _task(db, "backup-clean", f"rm -f {words}")


def parse_counts(output: str) -> dict[str, dict[str, int]]:
    """The proof's ``database<TAB>table<TAB>rows`` lines (others, such as the server's
    own chatter, are skipped)."""
    found: dict[str, dict[str, int]] = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].isdigit():
            found.setdefault(_unescape(parts[0]), {})[_unescape(parts[1])] = int(parts[2])
    return found


def _unescape(text: str) -> str:
    # The client's batch mode writes a tab, newline or backslash in a value escaped.
    return text.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
