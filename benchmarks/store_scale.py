"""The trials store at scale: allocate + record N trials, then read back M.

    .venv/bin/python benchmarks/store_scale.py [N=10000] [M=100000]

N trials go through TrialStore.begin_trial/finish_trial, the path every real
trial takes (lock check, iteration allocation and `running` record in one
BEGIN IMMEDIATE transaction, then the update that closes it), in 20 variant
combinations. Allocation staying O(log n) shows as equal times for the first
and the last thousand. The database is then filled up to M rows by copying
those rows in bulk (no per-trial transactions: that part is setup, not
measured), and `list_trials` (the ordered keys; then the newest 20 records,
then every record) and `mitosis-hydra list` read them.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.records import TrialPlan, TrialStatus, VariantValue
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.store import TrialStore, new_key


def variant(group: str, name: str, value: object) -> VariantValue:
    text = canonical_string(value)
    return VariantValue(group, name, text, canonical_hash(text))


def record_trials(store: TrialStore, count: int) -> list[float]:
    """Seconds per begin_trial + finish_trial, in order."""
    amplitudes = [variant("amplitude", f"a{i}", float(i)) for i in range(5)]
    frequencies = [variant("frequency", f"f{i}", i + 1) for i in range(4)]
    took = []
    for n in range(count):
        tracked = (amplitudes[n % 5], frequencies[(n // 5) % 4])
        start = time.perf_counter()
        plan = TrialPlan(
            key=new_key(),
            experiment="sine",
            variants={v.group: v.name for v in tracked},
            tracked=tracked,
            commit="0123456789abcdef0123456789abcdef01234567",
            seed=n,
            host=socket.gethostname(),
            started_at=datetime.now(UTC),
            trials_folder=store.trials_folder,
        )
        record = store.begin_trial(plan)
        store.finish_trial(
            record.key,
            status=TrialStatus.FINISHED,
            notebook=record.folder / "notebook.html",
            main=n * 1e-3,
            metrics={"estimate": 1.0},
            cpu_time=0.5,
        )
        took.append(time.perf_counter() - start)
    return took


def fill_to(store: TrialStore, total: int) -> None:
    """Copy the recorded rows with new keys and iterations until `total` rows exist."""
    table = schema.trials
    with store.engine.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(table.select())]
        top = max(row["iteration"] for row in rows)
        copies, made = [], len(rows)
        round_ = 0
        while made < total:
            round_ += 1
            for row in rows[: total - made]:
                iteration = row["iteration"] + round_ * top
                copies.append({**row, "key": new_key(), "iteration": iteration})
            made += len(rows[: total - made])
        conn.execute(table.insert(), copies)


def best_of(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trials"
        store = TrialStore(folder)
        took = record_trials(store, count)
        k = max(1, min(1000, count // 10))
        first, last = statistics.median(took[:k]), statistics.median(took[-k:])
        print(
            f"store: {count:,} trials allocated + recorded in {sum(took):.1f} s "
            f"({1000 * statistics.median(took):.1f} ms each; first {k:,} {1000 * first:.1f} ms, "
            f"last {k:,} {1000 * last:.1f} ms)"
        )
        fill_to(store, total)
        fresh = TrialStore(folder)
        listed = best_of(3, fresh.list_trials)
        size = len(fresh.list_trials())
        print(f"store: list_trials over {size:,} trials: {listed:.2f} s (best of 3)")
        newest = best_of(3, lambda: fresh.list_trials()[-20:])
        print(f"store: list_trials()[-20:] over {size:,} trials: {newest:.2f} s (best of 3)")
        every = best_of(3, lambda: [record.main for record in fresh.list_trials()])
        print(f"store: reading all {size:,} records of list_trials: {every:.2f} s (best of 3)")
        allocate = statistics.median(record_trials(store, 100))
        print(f"store: allocate + record at {total:,} trials: {1000 * allocate:.1f} ms each")
        cli = shutil.which("mitosis-hydra", path=str(Path(sys.executable).parent))
        has_cli = cli and subprocess.run([cli, "--help"], capture_output=True).returncode == 0
        if not has_cli:
            print("store: `mitosis-hydra list`: skipped, the command is not installed yet")
            return
        command = [cli, "list", "--trials-folder", str(folder)]
        shown = best_of(3, lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL))
        print(f"store: `mitosis-hydra list` over {total:,} trials: {shown:.2f} s (best of 3)")


if __name__ == "__main__":
    main()
