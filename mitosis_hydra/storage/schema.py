"""Tables of the trials database and the per-backend setup they need."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from mitosis_hydra.core.errors import StoreError

metadata = sa.MetaData()

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("param_group", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("canonical", sa.Text, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("first_commit", sa.String(64), nullable=False),
    sa.Column("first_trial", sa.String(64), nullable=False),
    sa.Column("locked_at", sa.String(40), nullable=False),
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("experiment", sa.String(255), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("combo", sa.Text, nullable=False),
    sa.Column("iteration", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("commit", sa.String(64), nullable=False),
    sa.Column("variants", sa.Text, nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("wall_time", sa.Float),
    sa.Column("cpu_time", sa.Float),
    sa.Column("main", sa.Text, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("folder", sa.Text, nullable=False),
    sa.Column("notebook", sa.Text),
    sa.Column("host", sa.String(255)),
    sa.Column("error", sa.Text),
    sa.Column("reproduction_of", sa.String(32)),
    # Liveness of the driver (schema version 2): a `running` row whose driver is gone is lost.
    sa.Column("pid", sa.Integer),
    sa.Column("pid_start", sa.String(32)),  # /proc/<pid>/stat start time: pid reuse shows
    sa.Column("heartbeat_at", sa.String(40)),
    sa.Column("sweep", sa.String(255)),  # schema version 3: the sweep a trial was a job of
    # schema version 4: the scheduler's job of a reserved (`queued`) trial, `slurm:1234_0`
    sa.Column("scheduler_job", sa.String(255)),
    sa.UniqueConstraint("combo", "iteration", name="uq_trials_combo_iteration"),
    sa.Index("ix_trials_experiment_started", "experiment", "started_at"),
    # list_trials' order; covering, so listing 100,000 keys is an index scan
    sa.Index("ix_trials_started_key", "started_at", "key"),
    # the few `running` rows, checked for lost drivers on every read
    sa.Index("ix_trials_status", "status"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

# Any constant works: every writer of one database takes the same advisory lock.
_PG_LOCK_ID = 7_270_417


def configure_sqlite(engine: Engine) -> None:
    """WAL and a long busy timeout for parallel workers; BEGIN mode chosen per connection."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def take_write_lock(conn: Connection) -> None:
    """Serialize writers on servers (SQLite already holds its lock from BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})


def _add_trial_columns(conn: Connection, *names: str) -> None:
    """Add these columns of `trials` (as declared above) that the table lacks."""
    present = {column["name"] for column in sa.inspect(conn).get_columns(trials.name)}
    for name in names:
        if name not in present:
            column = trials.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {trials.name} ADD COLUMN {name} {kind}")


def _add_liveness_columns(conn: Connection) -> None:
    """Version 2: the driver's pid, its start time and a heartbeat tell a lost trial; the
    indexes a version-1 database may lack come with it (listing order, `running` rows)."""
    _add_trial_columns(conn, "pid", "pid_start", "heartbeat_at")
    for index in trials.indexes:
        index.create(conn, checkfirst=True)


def _add_sweep_column(conn: Connection) -> None:
    """Version 3: each trial records the sweep it was a job of (NULL for older trials)."""
    _add_trial_columns(conn, "sweep")


def _add_scheduler_job_column(conn: Connection) -> None:
    """Version 4: a trial reserved by a sweep that does not wait names its scheduler job."""
    _add_trial_columns(conn, "scheduler_job")


# Ordered: (the version a database has after it, the change). A database made by an
# older mitosis_hydra gets the changes it lacks, in order, under the write lock. A new
# database (version 0) skips them: `metadata.create_all` makes the current schema, its
# indexes included. A change to the tables above needs both: the declaration here, and
# a migration at the end of this list that brings an existing database to it.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (2, _add_liveness_columns),
    (3, _add_sweep_column),
    (4, _add_scheduler_job_column),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def create(engine: Engine, url: str) -> None:
    """Bring the database to the current schema, safely when several processes start on
    a fresh folder (all under the write lock, in one transaction).

    Version 0 (no tables yet) → current: `create_all`, tables and indexes at once.
    An older version → current: its missing migrations, in order; its rows stay (a
    table it lacks altogether is made whole, as for version 0).
    """
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            take_write_lock(conn)
            fresh = not sa.inspect(conn).has_table(trials.name)
            metadata.create_all(conn, checkfirst=True)  # a table it lacks: made as declared
            if fresh:
                conn.execute(schema_info.insert().values(version=SCHEMA_VERSION))
                return
            version = _stored_version(conn)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The trials database {url} has schema version {version}, newer than "
                    f"this mitosis_hydra understands ({SCHEMA_VERSION}).\n"
                    "Upgrade mitosis_hydra to read it."
                )
            if version < SCHEMA_VERSION:
                for target, migrate in MIGRATIONS:
                    if target > version:
                        migrate(conn)
                conn.execute(schema_info.update().values(version=SCHEMA_VERSION))
            for index in trials.indexes:  # a dropped index is made again (tests rely on it)
                index.create(conn, checkfirst=True)


def _stored_version(conn: Connection) -> int:
    """The version a database records; 1 if it records none (the schema before migrations)."""
    version = conn.execute(sa.select(schema_info.c.version)).scalar()
    if version is None:
        conn.execute(schema_info.insert().values(version=1))
        return 1
    return version
