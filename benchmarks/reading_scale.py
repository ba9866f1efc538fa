"""Reading 100,000 trials: `list`, `list --json`, `list_trials()` and `compare`, each
against a bare Python `sqlite3` fetch of the same rows timed in the same run.

    .venv/bin/python benchmarks/reading_scale.py [TOTAL=100000] [RUNS=3]

The database is built quickly: a few hundred trials go through the store's own
`begin_trial`/`finish_trial` (2 experiments × 5 × 4 variants, several metrics,
some failed), then their rows are copied in bulk, each copy with a new key,
iteration, name, seed and earlier times, up to TOTAL rows (setup, not measured).
Every measurement is a whole process (interpreter start included), the median
of RUNS runs, the five commands run round-robin; each shows its wall time (what
the targets bound) and its CPU time (the rest was waiting for a core):

  floor         python -c "import sqlite3; sqlite3.connect(db).execute('select * from
                trials').fetchall()"
  list          mitosis-hydra list                (the default view: the newest few)
  list --json   mitosis-hydra list --json         (every trial)
  list_trials   python -c "…; for record in list_trials(folder): pass"
  compare       mitosis-hydra compare
"""

from __future__ import annotations

import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from targets import TargetRow, table

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.records import TrialPlan, TrialStatus, VariantValue
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.engine import DB_FILENAME
from mitosis_hydra.storage.store import TrialStore, close_engines, new_key

PY = sys.executable
CLI = str(Path(PY).parent / "mitosis-hydra")
RECORDED = 400  # trials recorded through the store API; the rest are bulk copies of them


def variant(group: str, name: str, value: object) -> VariantValue:
    text = canonical_string(value)
    return VariantValue(group, name, text, canonical_hash(text))


def record_trials(store: TrialStore, count: int) -> None:
    """`count` trials through begin_trial/finish_trial: 2 experiments × 5 × 4 variants."""
    rng = random.Random(0)
    amplitudes = [variant("amplitude", f"a{i}", float(i)) for i in range(5)]
    frequencies = [variant("frequency", f"f{i}", i + 1) for i in range(4)]
    for n in range(count):
        tracked = (amplitudes[n % 5], frequencies[(n // 5) % 4])
        plan = TrialPlan(
            key=new_key(),
            experiment=("sine", "cosine")[(n // 20) % 2],
            variants={v.group: v.name for v in tracked},
            tracked=tracked,
            commit="0123456789abcdef0123456789abcdef01234567",
            seed=n,
            host=socket.gethostname(),
            started_at=datetime.now(UTC),
            trials_folder=store.trials_folder,
        )
        record = store.begin_trial(plan)
        failed = rng.random() < 0.03
        main = rng.gauss(n % 5, 0.3)
        store.finish_trial(
            record.key,
            status=TrialStatus.FAILED if failed else TrialStatus.FINISHED,
            notebook=None if failed else record.folder / "notebook.html",
            main=None if failed else main,
            metrics={}
            if failed
            else {
                "estimate": rng.random(),
                "loss": abs(main) * 0.01,
                "steps": rng.randrange(100, 1000),
                "error": rng.gauss(0, 1e-3),
            },
            cpu_time=0.5,
            error="ValueError: broken on purpose" if failed else None,
        )


def fill_to(store: TrialStore, total: int) -> None:
    """Copy the recorded rows until `total` rows exist: each copy a new key, iteration,
    name, seed and times (an earlier round of the same trials), in one bulk insert."""
    table_ = schema.trials
    with store.engine.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(table_.select())]
        top = max(row["iteration"] for row in rows)
        copies, made, round_ = [], len(rows), 0
        while made < total:
            round_ += 1
            for row in rows[: total - made]:
                iteration = row["iteration"] + round_ * top
                name = f"{row['name'].rsplit('-', 1)[0]}-{iteration}"
                started = datetime.fromisoformat(row["started_at"]) - timedelta(days=round_)
                finished = datetime.fromisoformat(row["finished_at"]) - timedelta(days=round_)
                notebook = f"{name}/notebook.html" if row["notebook"] else None
                copies.append(
                    {
                        **row,
                        "key": new_key(),
                        "iteration": iteration,
                        "name": name,
                        "folder": name,
                        "notebook": notebook,
                        "seed": row["seed"] + round_ * len(rows),
                        "started_at": started.isoformat(),
                        "finished_at": finished.isoformat(),
                        "heartbeat_at": started.isoformat(),
                    }
                )
            made += len(rows[: total - made])
        conn.execute(table_.insert(), copies)


def build(folder: Path, total: int) -> Path:
    """A trials folder whose database holds `total` trials; returns the database file."""
    store = TrialStore(folder)
    record_trials(store, min(RECORDED, total))
    if total > RECORDED:
        fill_to(store, total)
    close_engines()
    return folder / DB_FILENAME


def whole_processes(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """The median wall time (spawn to exit, stdout discarded) and CPU time (user + system)
    of each command, run round-robin `runs` times so that the machine's load hits all
    alike. The CPU time says how much of the wall time was waiting for a core."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            times[name].append((wall, cpu))
    return {
        name: (statistics.median(w for w, _ in taken), statistics.median(c for _, c in taken))
        for name, taken in times.items()
    }


def measure_targets(total: int = 100_000, runs: int = 3) -> list[TargetRow]:
    """The four reading targets of issue 12, each with the sqlite3 fetch of the same run."""
    with tempfile.TemporaryDirectory(prefix="mitosis-reading-") as tmp:
        folder = Path(tmp) / "trials"
        db = build(folder, total)
        where = ["--trials-folder", str(folder)]
        fetch = f"import sqlite3; sqlite3.connect({str(db)!r}).execute('select * from trials')"
        iterate = (
            "from mitosis_hydra import list_trials\n"
            f"for record in list_trials({str(folder)!r}): pass"
        )
        measured = whole_processes(
            {
                "floor": [PY, "-c", f"{fetch}.fetchall()"],
                "list": [CLI, "list", *where],
                "json": [CLI, "list", "--json", *where],
                "records": [PY, "-c", iterate],
                "compare": [CLI, "compare", *where],
            },
            runs,
        )
    floor, floor_cpu = measured["floor"]
    shown = f"sqlite3 fetch {floor:.2f} s (CPU {floor_cpu:.2f} s)"
    n = f"{total:,}"

    def row(target: str, name: str, bound: float) -> TargetRow:
        wall, cpu = measured[name]
        return TargetRow(
            target, f"{wall:.2f} s (CPU {cpu:.2f} s)", shown, wall / floor, wall <= bound
        )

    return [
        row(f"`mitosis-hydra list` over {n} trials ≤ 0.5 s", "list", 0.5),
        row(f"`mitosis-hydra list --json` of {n} trials ≤ 3× floor", "json", 3 * floor),
        row(f"every record of `list_trials()` over {n} ≤ 2× floor", "records", 2 * floor),
        row(f"`mitosis-hydra compare` over {n} trials ≤ 1 s", "compare", 1.0),
    ]


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"reading {total:,} trials, whole processes, median of {runs}")
    print(table(measure_targets(total, runs)))


if __name__ == "__main__":
    main()
