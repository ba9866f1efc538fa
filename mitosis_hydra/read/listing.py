"""`mitosis-hydra list` at any scale: the newest trials and a count, every trial, or JSON.

Like `git log`, the table shows the newest DEFAULT_LAST trials and says how many
older ones there are and how to see them (`--last N`, `--all`): two indexed
queries, whatever the number of trials. `--json` is for programs, so it gives
every trial (or `--last N`), written from the rows as they are read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from mitosis_hydra.core.errors import UsageError
from mitosis_hydra.read.filters import parse_variants, with_variants
from mitosis_hydra.storage import reading
from mitosis_hydra.storage.engine import Database

DEFAULT_LAST = 20  # the trials the table shows without --last or --all: the newest


def show_list(
    db: Database,
    *,
    experiment: str | None = None,
    status: str | None = None,
    sweep: str | None = None,
    variants: Sequence[str] = (),
    last: int | None = None,
    every: bool = False,
    as_json: bool = False,
) -> None:
    """Print the trials these filters keep: a table for people, or JSON (`as_json`)."""
    wanted = parse_variants(variants)
    if sweep is not None and not reading.matching_keys(db, sweep=sweep):
        raise no_such_sweep(sweep, db.trials_folder)
    if as_json:  # every trial unless --last: programs read them all
        print_json_lines(
            reading.json_lines(
                db, experiment=experiment, status=status, sweep=sweep, variants=wanted, last=last
            )
        )
        return
    from mitosis_hydra.read import views

    if every:
        listed = reading.list_trials(db, experiment=experiment, status=status, sweep=sweep)
        records = with_variants(listed, variants)
        total = len(records)
    else:
        records, total = reading.newest(
            db,
            last or DEFAULT_LAST,
            experiment=experiment,
            status=status,
            sweep=sweep,
            variants=wanted,
        )
    views.trials_table(records, total)


def print_json_lines(lines: Iterator[str]) -> None:
    """A JSON list written as it is read, one element a line: for 100,000 trials, seconds
    less than json.dumps with an indent (which has no C encoder)."""
    out = sys.stdout
    first = next(lines, None)
    if first is None:
        out.write("[]\n")
        return
    out.write(f"[\n  {first}")
    for line in lines:
        out.write(f",\n  {line}")
    out.write("\n]\n")


def no_such_sweep(sweep: str, trials_folder: Path) -> UsageError:
    """`--sweep ID` naming no recorded sweep is a mistake, not an empty table."""
    return UsageError(
        f"No trial of sweep {sweep!r} is recorded.\n"
        f"  trials folder: {trials_folder}\n"
        "Copy the id from the `sweep …` line of the sweep's summary, or see `list --json`."
    )
