"""One trials database as a handle: its engine, its transactions, its driver's errors.

Each process keeps one SQLAlchemy engine per database URL (pooled: a connection
and its WAL state are reused across the writes and pages of one process). The
fork and exit hooks that keep those engines to their process are registered when
the first engine is made, not when this module is imported. Every read and write
goes through `Database.read`/`Database.write`, the one place where the driver's
errors become a StoreError with the URL's password masked. SQLAlchemy is imported
when the first engine is made: reading a SQLite file goes without it (reading.py).
"""

from __future__ import annotations

import atexit
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitosis_hydra.core.errors import StoreError
from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.core.masking import mask_text, mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

DB_FILENAME = "mitosis.sqlite"
_ENGINES: dict[str, Engine] = {}  # this process's engine per database URL
# reading.py's standard-library connection per SQLite URL, with the pid that opened it
sqlite_readers: dict[str, tuple[int, sqlite3.Connection]] = {}
_hooks_registered = False


def _forget_inherited_engines() -> None:
    """A forked child must not use, or close, the connections its parent pooled."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


def close_engines() -> None:
    """Close this process's pooled connections (at exit: a server then sees them end cleanly)."""
    for url in list(sqlite_readers):
        forget_reader(url)
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def forget_engine(url: str) -> None:
    """Close and drop this process's engine of `url` (before its file is replaced)."""
    forget_reader(url)
    engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def forget_reader(url: str) -> None:
    """Close this process's `sqlite3` reading connection to `url`, if it has one."""
    pid, conn = sqlite_readers.pop(url, (0, None))
    if conn is not None and pid == os.getpid():
        conn.close()


def _register_process_hooks() -> None:
    global _hooks_registered
    if not _hooks_registered:
        os.register_at_fork(after_in_child=_forget_inherited_engines)
        atexit.register(close_engines)
        _hooks_registered = True


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///file:PATH?mode=ro&uri=true` too); None otherwise."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if path.startswith("file:"):
        path = path.removeprefix("file:").split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def default_url(trials_folder: Path) -> str:
    """The SQLite file inside the trials folder: the database when mitosis.db is unset."""
    return f"sqlite:///{Path(trials_folder).resolve() / DB_FILENAME}"


class Database:
    """One trials database: its URL, the trials folder its records point into, and
    transactions on it. Connections are opened lazily, once per process."""

    def __init__(self, trials_folder: Path, url: str | None = None) -> None:
        self.trials_folder = Path(trials_folder)
        self.url = url or default_url(self.trials_folder)

    def __getstate__(self) -> dict[str, Any]:  # engines never cross process boundaries
        return {"trials_folder": self.trials_folder, "url": self.url}

    @property
    def shown_url(self) -> str:
        """The URL as printed: its password masked."""
        return mask_url(self.url)

    @property
    def engine(self) -> Engine:
        if self.url not in _ENGINES:
            _ENGINES[self.url] = self._create_engine()
        return _ENGINES[self.url]

    def exists(self) -> bool:
        """False for a SQLite file that was never created (reading then finds nothing)."""
        path = sqlite_path(self.url)
        return path is None or path.exists()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction holding the write lock from its start (all or nothing)."""
        from mitosis_hydra.storage import schema

        with self._driver_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                schema.take_write_lock(conn)
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot."""
        with self._driver_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """The one place where the database driver's errors become a StoreError.

        Unique-key clashes pass through (begin_trial retries them); everything else
        the driver or the file system says is reported with the URL's password masked.
        """
        import sqlalchemy as sa

        try:
            yield
        except sa.exc.IntegrityError:
            raise
        except (sa.exc.SQLAlchemyError, OSError, ImportError, OverflowError) as error:
            raise StoreError(driver_message(self.shown_url, self.trials_folder, error)) from None

    def _create_engine(self) -> Engine:
        import sqlalchemy as sa

        from mitosis_hydra.storage import schema

        path = sqlite_path(self.url)
        if path is not None:
            if not path.exists() and self.url == default_url(self.trials_folder):
                self._refuse_a_lost_database(path)
            path.parent.mkdir(parents=True, exist_ok=True)
        _register_process_hooks()
        engine = sa.create_engine(self.url)
        if engine.dialect.name == "sqlite":
            schema.configure_sqlite(engine)
        schema.create(engine, self.shown_url)
        return engine

    def _refuse_a_lost_database(self, path: Path) -> None:
        """A new database beside recorded trial folders would count iterations from 1 again."""
        if not self.trials_folder.is_dir():
            return
        recorded = next(self.trials_folder.glob(f"*/{RECORD_FILE}"), None)
        if recorded is not None:
            raise StoreError(
                "The trials database is missing, but the trials folder holds recorded "
                "trials.\n"
                f"  trials database: {path}\n"
                f"  recorded trial: {recorded.parent.name}\n"
                "  a new database would number their iterations again; nothing was written\n"
                "Rebuild the database from the trial folders: "
                f"mitosis-hydra rebuild --trials-folder {self.trials_folder}"
            )


# What a driver's message says, and what the user can do about it.
_CORRUPT = ("file is not a database", "malformed", "not a database", "file is encrypted")
_READ_ONLY = ("readonly", "read-only", "read only")


def driver_message(shown_url: str, trials_folder: Path, error: BaseException) -> str:
    """One paragraph for an error of the database driver or of the file system."""
    import sqlalchemy as sa

    text = mask_text(_first_line(error))
    lowered = text.lower()
    where = f"  trials database: {shown_url}\n  error: {text}\n"
    if any(word in lowered for word in _CORRUPT):
        return (
            f"The trials database is damaged and cannot be read.\n{where}"
            "Rebuild it from the trial folders (the damaged file is kept aside): "
            f"mitosis-hydra rebuild --trials-folder {trials_folder}"
        )
    if any(word in lowered for word in _READ_ONLY):
        return (
            f"The trials database cannot be written: it is read-only.\n{where}"
            "Make the database file and its folder writable (SQLite also writes -wal and "
            "-shm files beside it), or point mitosis.db at a database you can write."
        )
    if isinstance(error, (ImportError, sa.exc.ArgumentError)):
        return (
            f"The trials database URL cannot be used.\n{where}"
            "Set mitosis.db to a SQLAlchemy URL whose driver is installed, such as "
            "postgresql+psycopg://user@host/db, or leave it unset for the SQLite file in "
            "the trials folder."
        )
    if isinstance(error, OSError) or "unable to open" in lowered:
        return (
            f"The trials database cannot be opened.\n{where}"
            "Check that its folder exists and that you can write to it."
        )
    if isinstance(error, sa.exc.OperationalError) and not shown_url.startswith("sqlite"):
        return (
            f"The trials database server cannot be reached.\n{where}"
            "Check that the server runs and accepts connections, and the host, port, user "
            "and database in mitosis.db."
        )
    return (
        f"The trials database refused an operation.\n{where}"
        "Check the database; if it is damaged, rebuild it from the trial folders: "
        f"mitosis-hydra rebuild --trials-folder {trials_folder}"
    )


def _first_line(error: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's SQL echo and background link."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return (text.splitlines() or [type(error).__name__])[0]
