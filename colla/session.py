"""Wiring for commands that change a deployment: lock, history, recovery, recording."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from colla import site as site_module
from colla.backup import dumps
from colla.backup.take import prove_dump
from colla.backup.tasks import database_host
from colla.deploy import deployment
from colla.deploy.check import functional_check
from colla.deploy.credentials import admin_auth
from colla.deploy.executor import Executor
from colla.deploy.nodes import parse_limit
from colla.deploy.plan import Action, Change
from colla.engine import DockerEngine, Engine
from colla.history.pins import open_history
from colla.history.store import History, RevisionStatus
from colla.lock import command_line, locked
from colla.project import Project
from colla.site import Site
from colla.upgrade.swap import Swapper, record_revision, recover

Say = Callable[[str], None]


@dataclass
class Session:
    """One changing command: the lock is held and the history is open."""

    site: Site
    engine: Engine
    history: History
    say: Say
    recovered: list[str] = field(default_factory=list)
    # Each node's engine (only the nodes of --limit when it was given).
    engines: dict[str, Engine] = field(default_factory=dict)
    limit: frozenset[str] | None = None

    @property
    def project(self) -> Project:
        """The site's project."""
        return self.site.project

    def swapper(self) -> Swapper:
        """A swapper whose functional check talks to the real APIs."""
        catalog = self.site.catalog
        auth = admin_auth(self.project, catalog, self.site.topology)

        def check(service: str) -> None:
            self.say(f"functional check: {functional_check(auth, catalog[service])}")

        db = database_host(self.site)

        def prove(name: str) -> None:
            def kept(path: Path, tables: dict[str, dict[str, int]]) -> None:
                where = dumps.keep(self.site, name, path, tables, self.history.deployment)
                self.say(f"dump {name} kept off the database host: {where}")

            tables = prove_dump(db, self.engines, f"{name}.sql", kept)
            rows = sum(n for t in tables.values() for n in t.values())
            self.say(f"dump {name} proven: {rows} rows loaded whole in a scratch server")

        def stage(name: str) -> None:
            engine = self.engines.get(db.node)
            if engine is not None and dumps.stage(db, engine, name):
                self.say(f"dump {name} put back on {db.node} from {dumps.dumps_dir(self.site)}")

        return Swapper(self.executor(), self.history, check, prove, stage)

    def executor(self, engines: Mapping[str, Engine] | None = None) -> Executor:
        """What does this command's steps on its nodes (``engines``: those of the
        plan, when a deploy reached them itself; the session's by default)."""
        timeout = self.project.globals.colla_health_timeout
        return Executor(self.engines if engines is None else engines, self.say, timeout)

    def record(self, service: str, changes: list[Change]) -> None:
        """A revision for every container a deploy created, recreated or reloaded."""
        made = (Action.CREATE, Action.RECREATE, Action.RELOAD)
        for change in changes:
            if change.action not in made or change.spec is None:
                continue
            record_revision(
                self.history,
                change.spec,
                operation="deploy",
                status=RevisionStatus.HEALTHY,
                command=command_line(),
            )


@contextmanager
def session(
    config_dir: Path, say: Say, inventory: Path | None = None, limit: str | None = None
) -> Iterator[Session]:
    """Lock the deployment, reach its nodes (those of ``limit``: ``NODE[,NODE]``), open its
    history and finish what a killed colla left."""
    with locked(config_dir):
        site = site_module.load_site(config_dir, inventory)
        project = site.project
        nodes = parse_limit(limit, project)
        engine = DockerEngine.connect()
        engines = deployment.engines_for(project, engine, nodes)
        history = open_history(project)
        try:
            current = Session(site, engine, history, say, engines=engines, limit=nodes)
            if history.unfinished():
                current.recovered = recover(current.swapper(), history, say)
            yield current
        finally:
            history.close()
