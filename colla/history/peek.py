"""Reading a history file without changing it: whether it is colla's history at all
(before a command opens it, which would chmod it and add tables), and which deployment
it belongs to (a restore compares that with its archive's)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

from colla.errors import BadInput
from colla.textfile import quote

_SQLITE_MAGIC = b"SQLite format 3\x00"
# The tables of colla.history.store's schema (and SQLite's own for AUTOINCREMENT).
_TABLES = {"revisions", "operations", "journal", "meta", "sqlite_sequence"}


def _query(path: Path, sql: str, with_log: bool = False) -> list[Any]:
    """The rows of ``sql`` on the file, read-only. Immutable unless ``with_log``: the
    file as it is, with no journal, -wal or -shm file made beside it. ``with_log``
    also reads a write-ahead log that a running or killed colla left."""
    options = "mode=ro" if with_log else "mode=ro&immutable=1"
    db = sqlite3.connect(f"{path.absolute().as_uri()}?{options}", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def check_is_history(path: Path) -> None:
    """Refuse a file that exists and is not colla's history, before it is touched.

    Opening it would chmod it 0600 and add colla's tables: pointed at the wrong file
    by ``colla_history_path``, colla changed a file it did not make.
    """
    where = f"{path} (colla_history_path)"
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise BadInput(f"{where}: cannot read: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{where}: not a file, so not colla's history")
    if info.st_size == 0:
        return  # made by an open that stopped before the schema: nothing to lose
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise BadInput(f"{where}: cannot read: {e.strerror}") from None
    if magic != _SQLITE_MAGIC:
        raise BadInput(f"{where}: not an SQLite database, so not colla's history")
    try:
        rows = _query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    except sqlite3.Error as e:
        raise BadInput(f"{where}: unreadable SQLite database: {e}") from None
    foreign = sorted({str(name) for (name,) in rows} - _TABLES)
    if foreign:
        raise BadInput(
            f"{where}: an SQLite database that is not colla's history "
            f"(tables {quote(', '.join(foreign))})"
        )


def deployment_of(path: Path) -> str | None:
    """The deployment a history file belongs to, read without changing the file; None
    when it has none (no file, or a history from before colla recorded it)."""
    check_is_history(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    # With a write-ahead log beside it (a colla running, or killed), the row may be
    # there: read with the log. Without one, everything is in the file: immutable,
    # which leaves no -wal or -shm file behind. A log that cannot be read (a read-only
    # directory) falls back to the file alone.
    wal = path.with_name(path.name + "-wal").exists()
    for with_log in (True, False)[0 if wal else 1 :]:
        try:
            rows = _query(path, "SELECT value FROM meta WHERE key = 'deployment'", with_log)
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None  # made by a colla from before the meta table
            continue
        except sqlite3.Error as e:
            raise BadInput(f"{path}: unreadable SQLite database: {e}") from None
        return str(rows[0][0]) if rows else None
    raise BadInput(f"{path}: cannot read colla's history")
