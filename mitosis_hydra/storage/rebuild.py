"""`mitosis-hydra rebuild`: a new trials database from the trial folders' record.json files.

The database is an index of what the trial folders hold; when it is lost or
damaged, this writes a fresh one — records, iterations and variant locks —
into a new file, and only then moves it into place. A database that can
still be read and holds trials is replaced only with `force`; whatever was
there is kept aside under a new name, never deleted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mitosis_hydra.core.errors import RebuildRefusedError, StoreError
from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.storage import record_file, schema
from mitosis_hydra.storage.engine import Database, default_url, forget_engine, sqlite_path
from mitosis_hydra.storage.rows import lock_row, outcome_values, record_row
from mitosis_hydra.storage.store import TrialStore
from mitosis_hydra.storage.variants import add_audit_entry


@dataclass
class RebuildReport:
    """What a rebuild did: counts, the old file's new name, folders it could not read."""

    database: str
    trials: int = 0
    locks: int = 0
    kept_aside: Path | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


def rebuild(trials_folder: Path, db: str | None = None, *, force: bool = False) -> RebuildReport:
    """Recreate the database of `trials_folder` from its trial folders."""
    folder = Path(trials_folder).resolve()
    url = db or default_url(folder)
    path = sqlite_path(url)
    if path is None:
        raise RebuildRefusedError(
            "Rebuilding works on the SQLite database of a trials folder only.\n"
            f"  mitosis.db: {TrialStore(folder, url).shown_url}\n"
            "Rebuild into the SQLite file (leave --db unset), then copy its rows to the server."
        )
    entries, skipped = _read_folders(folder)
    _refuse_replacing_good(folder, url, path, force)
    forget_engine(url)
    fresh = path.with_name(f"{path.name}.rebuilding")
    _remove(fresh)
    new = Database(folder, f"sqlite:///{fresh}")
    locks = _write(new, entries)
    forget_engine(new.url)
    kept = _move_aside(path) if path.exists() else None
    os.replace(fresh, path)
    return RebuildReport(str(path), len(entries), locks, kept, skipped)


def _read_folders(folder: Path) -> tuple[list, list[tuple[str, str]]]:
    entries, skipped = [], []
    for trial_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name[0] != "."):
        file = trial_dir / RECORD_FILE
        if not file.is_file():
            skipped.append((trial_dir.name, f"no {RECORD_FILE} (a debug trial, or older)"))
            continue
        try:
            entries.append(record_file.read(file, folder))
        except (ValueError, KeyError, TypeError) as error:
            skipped.append((trial_dir.name, f"unreadable {RECORD_FILE}: {error}"))
    entries.sort(key=lambda entry: (entry[0].started_at, entry[0].key))
    return entries, skipped


def _refuse_replacing_good(folder: Path, url: str, path: Path, force: bool) -> None:
    if force or not path.exists():
        return
    try:
        held = len(TrialStore(folder, url).list_trials())
    except StoreError:
        return  # damaged: it will be kept aside
    if held:
        raise RebuildRefusedError(
            f"The trials database can still be read and holds {held} trials; rebuild "
            "would replace it.\n"
            f"  database: {path}\n"
            "Pass --force to rebuild anyway (the current file is kept aside, not deleted)."
        )


def _write(db: Database, entries: list) -> int:
    """Insert every record (oldest first) and the locks its tracked variants took.

    A lock as the trial that took it wrote it; a later taker means a release came between.
    """
    locks: dict[tuple[str, str], dict] = {}
    with db.write() as conn:
        for record, combo, tracked, took in entries:
            row = {**record_row(record, combo), **outcome_values(record, db.trials_folder)}
            conn.execute(schema.trials.insert().values(row))
            for variant in tracked:
                if (variant.group, variant.name) in took:
                    lock = lock_row(variant, record.commit, record.key, record.started_at)
                    locks[(variant.group, variant.name)] = lock
        for row in locks.values():
            conn.execute(schema.variants.insert().values(row))
        add_audit_entry(conn, "rebuild", {"trials": len(entries), "locks": len(locks)})
    return len(locks)


def _move_aside(path: Path) -> Path:
    """Rename the old database (and its WAL files) to `<name>.replaced-<time>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            os.replace(old, Path(f"{aside}{suffix}"))
    return aside


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
