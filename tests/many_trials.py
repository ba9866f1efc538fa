"""A trials folder with many trials, made in seconds: the store API, then bulk copies.

No kernels: a few hundred trials go through TrialStore.begin_trial/finish_trial
(the path every real trial takes: locks, iteration allocation, folder), then
the database is filled up to `total` rows by copying them in one bulk insert,
each copy with its own key, iteration, name, start time, results and sweep, as
if the same sweeps had been run again and again. Used by the index's scale
test (tests/test_index_scale.py) and its benchmark (benchmarks/index_scale.py).

Two experiments: `sine` (amplitude × frequency, 20 combinations, maximize) and
`decay` (rate, 3 combinations, `goal: minimize` in its newest trial's config);
about 3% of the trials failed, a few were interrupted; the newest
`NOTEBOOKS` trials have a notebook file, the others' are missing (deleted).
"""

from __future__ import annotations

import itertools
import json
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.layout import CONFIG_FILE
from mitosis_hydra.core.naming import trial_name
from mitosis_hydra.core.records import TrialPlan, TrialStatus, VariantValue
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.rows import dumps
from mitosis_hydra.storage.store import TrialStore, new_key

NOTEBOOKS = 60  # the newest trials whose notebook file exists
SWEEP_SIZE = 50  # copies come in sweeps of this many trials
START = datetime(2026, 1, 1, tzinfo=UTC)

# experiment -> its parameters (group -> variant names)
EXPERIMENTS = {
    "sine": {"amplitude": [f"a{i}" for i in range(5)], "frequency": [f"f{i}" for i in range(4)]},
    "decay": {"rate": ["slow", "medium", "fast"]},
}


def _variant(group: str, name: str) -> VariantValue:
    text = canonical_string(name)
    return VariantValue(group, name, text, canonical_hash(text))


def _combinations() -> list[tuple[str, dict[str, str]]]:
    combos = []
    for experiment, groups in EXPERIMENTS.items():
        names = sorted(groups)
        for values in itertools.product(*(groups[g] for g in names)):
            combos.append((experiment, dict(zip(names, values, strict=True))))
    return combos


def _level(variants: dict[str, str]) -> int:
    """Where a combination's main lies: the sum of its variants' places in their groups."""
    return sum(
        groups[g].index(v)
        for groups in EXPERIMENTS.values()
        for g, v in variants.items()
        if v in groups.get(g, ())
    )


def _outcome(rng: random.Random, variants: dict[str, str]) -> tuple[TrialStatus, dict]:
    """A status, and the main metric and metrics a trial of these variants gave."""
    draw = rng.random()
    if draw < 0.03:
        return TrialStatus.FAILED, {"main": None, "metrics": {}}
    if draw < 0.035:
        return TrialStatus.INTERRUPTED, {"main": None, "metrics": {}}
    level = _level(variants)
    main = rng.gauss(level, 0.4)
    return TrialStatus.FINISHED, {"main": main, "metrics": {"estimate": rng.random(), "x": level}}


def record_base(store: TrialStore, per_combo: int, rng: random.Random) -> None:
    """`per_combo` trials of every combination, recorded through the store API."""
    for n in range(per_combo):
        for experiment, variants in _combinations():
            tracked = tuple(_variant(g, v) for g, v in sorted(variants.items()))
            plan = TrialPlan(
                key=new_key(),
                experiment=experiment,
                variants=dict(variants),
                tracked=tracked,
                commit="0123456789abcdef0123456789abcdef01234567",
                seed=n,
                host=socket.gethostname(),
                started_at=START + timedelta(seconds=n),
                trials_folder=store.trials_folder,
            )
            record = store.begin_trial(plan)
            status, outcome = _outcome(rng, variants)
            store.finish_trial(
                record.key,
                status=status,
                notebook=record.folder / "notebook.html",
                cpu_time=0.5,
                **outcome,
            )


def fill_to(store: TrialStore, total: int, rng: random.Random) -> None:
    """Copy the recorded rows, as new trials in sweeps, until `total` rows exist."""
    table = schema.trials
    with store.engine.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(table.select())]
        top = max(row["iteration"] for row in rows)
        copies = []
        for n in range(total - len(rows)):
            row = rows[n % len(rows)]
            iteration = row["iteration"] + (n // len(rows) + 1) * top
            variants = json.loads(row["variants"])
            name = trial_name(row["experiment"], variants, iteration)
            status, outcome = _outcome(rng, variants)
            started = START + timedelta(days=1, seconds=30 * n + rng.random())
            wall = 20 + 10 * rng.random()
            copies.append(
                {
                    **row,
                    "key": new_key(),
                    "iteration": iteration,
                    "name": name,
                    "folder": name,
                    "notebook": f"{name}/notebook.html",
                    "status": status.value,
                    "seed": iteration,
                    "started_at": started.isoformat(),
                    "finished_at": (started + timedelta(seconds=wall)).isoformat(),
                    "wall_time": wall,
                    "main": dumps(outcome["main"]),
                    "metrics": dumps(outcome["metrics"]),
                    "error": "ValueError: a failed trial" if status is TrialStatus.FAILED else None,
                    "sweep": f"2026-01-02_00-00-00-{n // SWEEP_SIZE:04x}",
                }
            )
        conn.execute(table.insert(), copies)


def make_trials(folder: Path, total: int, *, per_combo: int = 4, seed: int = 0) -> TrialStore:
    """A trials folder holding `total` trials (at least one round of every combination)."""
    rng = random.Random(seed)
    store = TrialStore(folder)
    record_base(store, per_combo, rng)
    if total > per_combo * len(_combinations()):
        fill_to(store, total, rng)
    _finish_files(store)
    return store


def _finish_files(store: TrialStore) -> None:
    """The newest trials' notebooks, and `goal: minimize` in decay's newest config."""
    newest = store.list_trials()[-NOTEBOOKS:]
    for record in newest:
        if record.notebook is not None:
            record.notebook.parent.mkdir(parents=True, exist_ok=True)
            record.notebook.write_text(f"<h1>{record.name}</h1>\n", encoding="utf-8")
    decay = store.list_trials(experiment="decay")[-1]
    decay.folder.mkdir(parents=True, exist_ok=True)
    (decay.folder / CONFIG_FILE).write_text("exp:\n  name: decay\n  goal: minimize\n")
