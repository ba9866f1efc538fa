"""The `mitosis-hydra` command: list, show, compare, variants, reproduce, index, rebuild.

Thin: each command parses its arguments, calls the Python API and hands the
result to `views` (rich tables for people) or prints JSON (`--json`, for
programs). Exit codes: 0 ok, 1 something failed or did not match, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from mitosis_hydra.core.errors import (
    MitosisError,
    TrialNotFoundError,
    UsageError,
)
from mitosis_hydra.core.outcomes import EXIT_REFUSED, exit_code
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read.filters import add_compare_flags, add_variant_flag
from mitosis_hydra.read.listing import DEFAULT_LAST

PROG = "mitosis-hydra"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors, in house style
        self.print_usage(sys.stderr)
        self.exit(EXIT_REFUSED, f"{self.prog}: {message}\nTry `{self.prog} --help`.\n")


def _common(default: Any = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--trials-folder",
        metavar="DIR",
        type=Path,
        default=default,
        help="the trials folder (default: trials/ at the root of the current git working tree)",
    )
    common.add_argument(
        "--db", metavar="URL", default=default, help="SQLAlchemy URL, if mitosis.db was set"
    )
    return common


def _positive(text: str) -> int:
    """A count of trials: 1 or more (argparse turns the error into a usage error, exit 2)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a number of trials (1 or more)")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (the `--help` texts are the reference)."""
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON for programs")
    parser = _Parser(prog=PROG, description="Browse, compare and reproduce mitosis_hydra trials.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    both = [_common(), as_json]
    _add_reading(commands, both)
    _add_variants(commands, both)
    _add_running(commands, both)
    return parser


def _add_reading(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "list",
        parents=parents,
        help=f"recorded trials, oldest first: the newest {DEFAULT_LAST} unless --last or --all",
        description=f"Recorded trials, oldest first. The table shows the newest {DEFAULT_LAST} "
        "and says how many older ones there are; --json gives every trial.",
    )
    p.add_argument("--experiment", "-e", help="only this experiment")
    p.add_argument(
        "--status", "-s", choices=[s.value for s in TrialStatus], help="only this status"
    )
    add_variant_flag(p)
    how_many = p.add_mutually_exclusive_group()
    how_many.add_argument(
        "--last",
        type=_positive,
        metavar="N",
        help=f"only the N most recent (N ≥ 1; the table's default: {DEFAULT_LAST})",
    )
    how_many.add_argument("--all", action="store_true", help="every trial, in the table too")
    p.add_argument("--sweep", metavar="ID", help="only the trials of this sweep (its summary says)")
    p = commands.add_parser("show", parents=parents, help="everything recorded about one trial")
    p.add_argument("key", help="a trial key, a unique prefix of one, or a trial name")
    p = commands.add_parser(
        "compare", parents=parents, help="main metric and metrics per variant combination"
    )
    p.add_argument("--experiment", "-e", help="only this experiment (default: all)")
    p.add_argument(
        "--status",
        "-s",
        default="finished",
        choices=[*(s.value for s in TrialStatus), "all"],
        help="which trials count (default: finished)",
    )
    p.add_argument("--sweep", metavar="ID", help="only the trials of this sweep (its summary says)")
    add_compare_flags(p)


def _add_variants(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("variants", parents=parents, help="locked variant names")
    p.add_argument("--released", action="store_true", help="list released names instead")
    sub = p.add_subparsers(dest="variants_command", metavar="release", parser_class=_Parser)
    r = sub.add_parser(
        "release",
        parents=[_common(argparse.SUPPRESS)],  # keeps `variants --trials-folder X release …`
        help="free a locked name so it can be locked to a new value",
        description="Free a locked variant name. Trials recorded with it keep their records "
        "and values; the released value is kept in the audit log.",
    )
    r.add_argument("variant", metavar="GROUP/NAME", help="e.g. amplitude/my_variant")
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument("--force", action="store_true", help="release even if trials use it")


def _add_running(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "reproduce", parents=parents, help="re-run a trial at its commit and compare"
    )
    p.add_argument("key", help="a trial key, a unique prefix of one, or a trial name")
    p.add_argument(
        "--rtol", type=float, default=0.0, help="relative tolerance (default 0: exactly equal)"
    )
    p.add_argument(
        "--no-record", action="store_true", help="run a debug trial (nothing is recorded)"
    )
    p = commands.add_parser(
        "rebuild",
        parents=parents,
        help="recreate the trials database from the trial folders",
        description="Write a new trials database from the record.json of every trial folder "
        "(records, iterations, variant locks). A damaged database is kept aside under a new "
        "name; one that can still be read and holds trials is replaced only with --force.",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a readable database too (kept aside)"
    )
    p = commands.add_parser("index", parents=parents, help="write a static HTML page of all trials")
    p.add_argument("--output", "-o", type=Path, help="where (default: <trials folder>/index.html)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except MitosisError as error:  # 2: asked for what is not there; 1: could not do it
        print(str(error), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        print("Interrupted.", file=sys.stderr)
        return exit_code(stop)


def _folder(args: argparse.Namespace) -> Path:
    from mitosis_hydra.run.paths import resolve_trials_folder

    folder = resolve_trials_folder(args.trials_folder)
    if not folder.is_dir() and not args.db:
        raise UsageError(
            f"There is no trials folder at {folder}.\n"
            f"  {PROG} reads the trials a project recorded there\n"
            "Try `--trials-folder DIR`, or run from inside the project's git working tree."
        )
    return folder


def _store(args: argparse.Namespace):
    from mitosis_hydra.storage.store import TrialStore

    return TrialStore(_folder(args), args.db)


def _database(args: argparse.Namespace):
    """The database alone, for the reads of storage/reading.py (no SQLAlchemy on SQLite)."""
    from mitosis_hydra.storage.engine import Database

    return Database(_folder(args), args.db)


def _key(store, key_or_name: str) -> str:
    """The key of the trial with this key, unique key prefix, or full trial name."""
    try:
        return store.get(key_or_name).key
    except TrialNotFoundError:
        named = store.keys_named(key_or_name) if key_or_name else []
        if len(named) == 1:
            return named[0]
        raise


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_list(args: argparse.Namespace) -> int:
    from mitosis_hydra.read.listing import show_list

    show_list(
        _database(args),
        experiment=args.experiment,
        status=args.status,
        sweep=args.sweep,
        variants=args.variant,
        last=args.last,
        every=args.all,
        as_json=args.json,
    )
    return 0


def _require_sweep(store: Any, sweep: str | None, records: Any) -> None:
    """`--sweep ID` naming no recorded sweep is a mistake, not an empty table."""
    from mitosis_hydra.read.listing import no_such_sweep

    if sweep is None or records or store.list_trials(sweep=sweep):
        return
    raise no_such_sweep(sweep, store.trials_folder)


def cmd_show(args: argparse.Namespace) -> int:
    from mitosis_hydra.read import views
    from mitosis_hydra.read.details import trial_details

    store = _store(args)
    details = trial_details(store, _key(store, args.key))
    if args.json:
        _print_json(details)
    else:
        views.trial_details(details)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from mitosis_hydra.read import views
    from mitosis_hydra.read.comparing import compare_command

    comparisons = compare_command(
        _database(args),
        experiment=args.experiment,
        status=None if args.status == "all" else args.status,
        sweep=args.sweep,
        variants=args.variant,
        sort=args.sort,
    )
    if args.json:
        _print_json([comparison.to_json() for comparison in comparisons])
    else:
        views.comparisons(comparisons, args.status)
    return 0


def cmd_variants(args: argparse.Namespace) -> int:
    from mitosis_hydra.read import views
    from mitosis_hydra.read.release import RELEASE_ACTION, audit_log

    if args.variants_command == "release":
        return _release(args)
    store = _store(args)
    if args.released:
        entries = audit_log(store, RELEASE_ACTION)
        _print_json(entries) if args.json else views.released(entries)
        return 0
    locks = store.variant_locks()
    if args.json:
        _print_json([views.lock_json(lock) for lock in locks])
    else:
        views.locks_table(locks)
    return 0


def _release(args: argparse.Namespace) -> int:
    from mitosis_hydra.read.release import parse_variant, release_variant, variant_lock

    store = _store(args)
    group, name = parse_variant(args.variant)
    lock = variant_lock(store, group, name)
    if lock.trial_count and not args.force:
        release_variant(store, group, name, force=False)  # refuses, naming the trials
    question = (
        f"Release {group}/{name} (locked to {lock.canonical}, {lock.trial_count} trials "
        "recorded with it keep their records)? [y/N] "
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"Releasing {group}/{name} needs a confirmation, and there is no terminal "
                "to ask in.\n"
                f"  locked to {lock.canonical} by trial {lock.first_trial}\n"
                f"Try `{PROG} variants release {group}/{name} --yes` to confirm on the "
                "command line."
            )
        if input(question).strip().lower() not in ("y", "yes"):
            print(f"Not released: {group}/{name} stays locked.", file=sys.stderr)
            return 1
    released = release_variant(store, group, name, force=args.force)
    print(
        f"Released {group}/{name} (was {released.canonical}; {released.trial_count} trials keep "
        "their records).\nThe next trial that uses the name locks it to its value then; "
        f"the old value is in `{PROG} variants --released`."
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from mitosis_hydra.read import views
    from mitosis_hydra.read.reproduce import reproduce_trial

    if args.rtol < 0:
        raise UsageError(f"--rtol must be 0 or more, got {args.rtol}.\nTry e.g. `--rtol 1e-9`.")
    echo = None if args.json else (lambda line: print(f"  | {line}", file=sys.stderr))
    result = reproduce_trial(
        _key(_store(args), args.key),
        _folder(args),
        rtol=args.rtol,
        record=not args.no_record,
        db=args.db,
        on_output=echo,
    )
    if args.json:
        _print_json(result.to_json())
    else:
        views.reproduction(result)
    return 0 if result.matches else 1


def cmd_index(args: argparse.Namespace) -> int:
    from mitosis_hydra.read.api import list_trials
    from mitosis_hydra.read.index_page import write_index

    folder = _folder(args)
    page = write_index(folder, db=args.db, output=args.output)
    count = len(list_trials(folder, db=args.db)) if args.json else None
    if args.json:
        _print_json({"path": str(page), "trials": count})
    else:
        print(f"Wrote {page}\nOpen it in a browser: file://{page.resolve()}")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from mitosis_hydra.storage.rebuild import rebuild

    report = rebuild(_folder(args), args.db, force=args.force)  # refused: exit 2
    if args.json:
        _print_json(
            {
                "database": report.database,
                "trials": report.trials,
                "locks": report.locks,
                "kept_aside": str(report.kept_aside) if report.kept_aside else None,
                "skipped": [{"folder": f, "reason": r} for f, r in report.skipped],
            }
        )
        return 0
    print(f"Rebuilt {report.database}: {report.trials} trials, {report.locks} variant locks.")
    if report.kept_aside is not None:
        print(f"  the previous database is kept as {report.kept_aside}")
    for name, reason in report.skipped:
        print(f"  skipped {name}: {reason}")
    return 0


_HANDLERS = {
    "list": cmd_list,
    "show": cmd_show,
    "compare": cmd_compare,
    "variants": cmd_variants,
    "reproduce": cmd_reproduce,
    "index": cmd_index,
    "rebuild": cmd_rebuild,
}

if __name__ == "__main__":
    sys.exit(main())
