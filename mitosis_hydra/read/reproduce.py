"""Re-running a recorded trial at its commit, and saying whether it gives the same answer.

The trial's repository gets a temporary detached worktree at the trial's
commit; the trial's own command (`python -m <module>` with its stored
overrides and seed) runs there as a subprocess, from the same folder relative
to the repository root as the original. So the old code and the old config
tree run, in a fresh kernel, and the trial is recorded in the same trials
database (variant locks included: they match, it is the same commit).

The new record is marked as a reproduction through the environment variable
`MITOSIS_REPRODUCTION_OF=<key>`, which `job.spec_and_context` reads; with
`record=False` a debug trial runs instead and nothing is recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.envdiff import EnvironmentDiff, diff_environments
from mitosis_hydra.core.errors import ReproductionError
from mitosis_hydra.core.layout import CONFIG_FILE, ENVIRONMENT_FILE, SUMMARY_FILE
from mitosis_hydra.core.outcomes import status_of_exit
from mitosis_hydra.core.records import TrialRecord
from mitosis_hydra.read.reproduction_checks import ValueCheck, diff_configs, outcome_checks
from mitosis_hydra.run.paths import resolve_trials_folder
from mitosis_hydra.storage.store import TrialStore, default_url

REPRODUCTION_ENV = "MITOSIS_REPRODUCTION_OF"
# Settings the reproduction sets itself; the stored overrides of these are dropped.
_REPLACED = ("seed", "debug", "mitosis.trials_folder", "mitosis.db")
_PLAIN = re.compile(r"[A-Za-z0-9_/.@-]+")


@dataclass(frozen=True)
class Reproduction:
    """What re-running a trial gave, compared with what it gave first."""

    original: TrialRecord
    command: tuple[str, ...]
    cwd: str
    returncode: int
    recorded: bool
    key: str | None
    name: str | None
    status: str | None
    checks: tuple[ValueCheck, ...]
    config_diff: str
    environment: EnvironmentDiff | None
    output: str
    rtol: float

    @property
    def matches(self) -> bool:
        """True when the re-run ended as the original did, with the same config and values.

        For a finished original: the main metric and every metric; for a failed (or
        interrupted) one: its status and the last line of its error.
        """
        return (
            self.status == self.original.status.value
            and not self.config_diff
            and bool(self.checks)
            and all(check.matches for check in self.checks)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original.key,
            "reproduction": self.key,
            "name": self.name,
            "recorded": self.recorded,
            "status": self.status,
            "matches": self.matches,
            "rtol": self.rtol,
            "commit": self.original.commit,
            "command": list(self.command),
            "cwd": self.cwd,
            "returncode": self.returncode,
            "checks": [
                {
                    "name": c.name,
                    "original": c.original,
                    "reproduced": c.reproduced,
                    "matches": c.matches,
                }
                for c in self.checks
            ],
            "config_diff": self.config_diff,
            "environment": self.environment.to_json() if self.environment else None,
            "output": self.output,
        }


def reproduce_trial(
    key: str,
    trials_folder: str | Path | None = None,
    *,
    rtol: float = 0.0,
    record: bool = True,
    db: str | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Reproduction:
    """Re-run trial `key` at its commit in a temporary worktree and compare the outcome.

    `rtol=0` asks for exactly equal values; `on_output` receives the re-run's output lines.
    """
    folder = resolve_trials_folder(trials_folder)
    store = TrialStore(folder, db)
    original = store.get(key)
    env = _read_json(original.folder / ENVIRONMENT_FILE, original)
    root, cwd = _origin(env, original)
    before = {entry.name for entry in store.trials_folder.iterdir()}
    began = datetime.now(UTC)
    with checkout(root, original.commit) as tree:
        command = _command(env, original, tree, folder, db, record)
        key_env = original.key if record else None
        code, output = _run(command, tree, tree / cwd, key_env, on_output)
    if record:
        found = _recorded_copy(store, original.key, began)
    else:
        found = _debug_copy(store.trials_folder, before, code)
    return _judge(original, store, command, cwd, code, output, rtol, record, env, found)


def _recorded_copy(store: TrialStore, key: str, began: datetime) -> tuple[str, str, str] | None:
    """The re-run's record (name, key, status): the newest reproduction of `key` since `began`."""
    trials = store.list_trials()
    for index in range(len(trials) - 1, -1, -1):
        trial = trials[index]
        if trial.started_at < began:
            return None
        if trial.reproduction_of == key:
            return trial.name, trial.key, trial.status.value
    return None


def _debug_copy(trials_folder: Path, before: set[str], code: int) -> tuple[str, str, str] | None:
    """The debug re-run's folder (never recorded): the new one; its exit code says its status."""
    new = [p for p in trials_folder.iterdir() if p.name not in before and "-debug-" in p.name]
    if not new:
        return None
    folder = max(new, key=lambda p: p.stat().st_mtime)
    key = folder.name.rpartition("-debug-")[2]
    return folder.name, key, status_of_exit(code).value


def _judge(
    original: TrialRecord,
    store: TrialStore,
    command: list[str],
    cwd: Path,
    code: int,
    output: str,
    rtol: float,
    record: bool,
    env: dict[str, Any],
    found: tuple[str, str, str] | None,
) -> Reproduction:
    name = key = status = None
    checks: tuple[ValueCheck, ...] = ()
    config_diff, environment = "", None
    if found:
        name, key, status = found
        folder = store.trials_folder / name
        main, metrics, error = _outcome(store, folder, key, record)
        checks = outcome_checks(original, status, main, metrics, error, record, rtol)
        config_diff = diff_configs(original.folder / CONFIG_FILE, folder / CONFIG_FILE)
        new_env = _read_json(folder / ENVIRONMENT_FILE, original, missing_ok=True)
        environment = diff_environments(env, new_env) if new_env else None
    return Reproduction(
        original, tuple(command), cwd.as_posix(), code, record, key, name, status,
        checks, config_diff, environment, output, rtol,
    )  # fmt: skip


def _outcome(
    store: TrialStore, folder: Path, key: str, record: bool
) -> tuple[Any, dict[str, Any], str | None]:
    if record:
        new = store.get(key)
        return new.main, new.metrics, new.error
    summary = folder / SUMMARY_FILE
    if not summary.exists():
        return None, {}, None
    data = json.loads(summary.read_text(encoding="utf-8"))
    return data.get("main"), data.get("metrics") or {}, None


@contextmanager
def checkout(root: Path, commit: str) -> Iterator[Path]:
    """A temporary detached worktree of `root` at `commit`, removed afterwards."""
    if not (root / ".git").exists():
        raise ReproductionError(
            f"The trial's git repository is not at {root} any more.\n"
            "  reproduce re-runs the trial from its commit in that repository\n"
            "Try again from a clone at that path, or restore the repository there."
        )
    if _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise ReproductionError(
            f"The trial's commit {commit[:12]} is not in the repository at {root}.\n"
            "  it may have been rebased away or never pushed to this clone\n"
            "Try `git fetch` (or restore the commit) and run reproduce again."
        )
    parent = Path(tempfile.mkdtemp(prefix="mitosis-reproduce-"))
    tree = parent / root.name
    added = _git(root, "worktree", "add", "--detach", str(tree), commit)
    if added.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        raise ReproductionError(
            f"git could not create a worktree of {root} at {commit[:12]}:\n"
            f"  {added.stderr.strip()}\n"
            "Try `git worktree prune` in that repository, then run reproduce again."
        )
    try:
        yield tree
    finally:
        _git(root, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)
        _git(root, "worktree", "prune")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def _read_json(path: Path, record: TrialRecord, *, missing_ok: bool = False) -> dict[str, Any]:
    if not path.exists():
        if missing_ok:
            return {}
        raise ReproductionError(
            f"Trial {record.name} (key {record.key}) has no {path.name}.\n"
            f"  expected {path}\n"
            "Try reproducing a trial whose folder is complete; its command line is recorded there."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _origin(env: dict[str, Any], record: TrialRecord) -> tuple[Path, Path]:
    """The repository root and the invocation folder relative to it."""
    root = (env.get("git") or {}).get("root")
    invocation = env.get("invocation") or {}
    if not root or "cwd" not in invocation:
        raise ReproductionError(
            f"Trial {record.name} (key {record.key}) did not record its repository or folder.\n"
            f"  {ENVIRONMENT_FILE} has no git.root or invocation.cwd\n"
            "Try a trial recorded by a newer mitosis_hydra."
        )
    cwd = Path(invocation["cwd"])
    try:
        return Path(root), cwd.relative_to(root)
    except ValueError:
        return Path(root), Path()


def _command(
    env: dict[str, Any],
    record: TrialRecord,
    tree: Path,
    folder: Path,
    db: str | None,
    recorded: bool,
) -> list[str]:
    """`python -m <module> <stored overrides> seed=… mitosis.trials_folder=…` for the worktree."""
    invocation = env["invocation"]
    argv = list(invocation.get("argv") or [])
    entry = _entry(argv, Path(env["git"]["root"]), Path(invocation["cwd"]), tree, record)
    overrides = [o for o in invocation.get("overrides") or [] if _override_key(o) not in _REPLACED]
    overrides += [f"seed={record.seed}", f"mitosis.trials_folder={quote_override(str(folder))}"]
    if db and db != default_url(folder):
        overrides.append(f"mitosis.db={quote_override(db)}")
    if not recorded:
        overrides.append("debug=true")
    executable = env.get("executable")
    python = executable if executable and Path(executable).exists() else sys.executable
    return [python, *entry, *overrides]


def _entry(argv: list[str], root: Path, cwd: Path, tree: Path, record: TrialRecord) -> list[str]:
    if "-m" in argv[1:-1]:
        at = argv.index("-m", 1)
        return [*argv[1:at], "-m", argv[at + 1]]
    if len(argv) > 1 and argv[1].endswith(".py"):
        script = (cwd / argv[1]).resolve()
        if script.is_relative_to(root):
            return [str(tree / script.relative_to(root))]
    raise ReproductionError(
        f"Trial {record.name} (key {record.key}) was not started as `python -m <package>` "
        "or as a script in its repository, so reproduce cannot re-run its code.\n"
        f"  recorded command: {' '.join(argv) or '(none)'}\n"
        "Try running the trial as `python -m <your package> …` from now on."
    )


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def quote_override(value: str) -> str:
    """A value as Hydra's override parser reads it back unchanged."""
    if _PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _run(
    command: list[str],
    tree: Path,
    cwd: Path,
    reproduction_of: str | None,
    on_output: Callable[[str], None] | None,
) -> tuple[int, str]:
    env = dict(os.environ)
    env.pop(REPRODUCTION_ENV, None)
    if reproduction_of:
        env[REPRODUCTION_ENV] = reproduction_of
    src = tree / "src"
    if src.is_dir():  # a src layout: the worktree's package, not an installed copy
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    lines = []
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if on_output is not None:
                on_output(line.rstrip("\n"))
    return process.returncode, "".join(lines)
