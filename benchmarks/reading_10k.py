"""Time `mitosis-hydra list` and `index` over 10,000 trials recorded with the store API.

    .venv/bin/python benchmarks/reading_10k.py [N]

The trials are made with TrialStore.begin_trial/finish_trial (no kernels), in
a temporary folder: 2 experiments × 5 × 4 variants × 250 seeds by default.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.records import TrialPlan, TrialStatus, VariantValue
from mitosis_hydra.storage.store import TrialStore, new_key


def variant(group: str, name: str, value: object) -> VariantValue:
    text = canonical_string(value)
    return VariantValue(group, name, text, canonical_hash(text))


def make_trials(folder: Path, count: int) -> None:
    store = TrialStore(folder)
    rng = random.Random(0)
    amplitudes = [variant("amplitude", f"a{i}", float(i)) for i in range(5)]
    frequencies = [variant("frequency", f"f{i}", i + 1) for i in range(4)]
    for n in range(count):
        amp, freq = amplitudes[n % 5], frequencies[(n // 5) % 4]
        tracked = (amp, freq)
        plan = TrialPlan(
            key=new_key(),
            experiment=("sine", "cosine")[(n // 20) % 2],
            variants={v.group: v.name for v in tracked},
            tracked=tracked,
            commit="0123456789abcdef0123456789abcdef01234567",
            seed=n // 40,
            host=socket.gethostname(),
            started_at=datetime.now(UTC),
            trials_folder=folder,
        )
        record = store.begin_trial(plan)
        failed = rng.random() < 0.03
        store.finish_trial(
            record.key,
            status=TrialStatus.FAILED if failed else TrialStatus.FINISHED,
            notebook=record.folder / "notebook.html",
            main=None if failed else rng.gauss(n % 5, 0.3),
            metrics={} if failed else {"estimate": rng.random()},
            cpu_time=0.5,
        )


def timed(*args: str) -> float:
    script = Path(sys.executable).parent / "mitosis-hydra"
    start = time.perf_counter()
    subprocess.run([str(script), *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trials"
        start = time.perf_counter()
        make_trials(folder, count)
        print(f"recorded {count} trials with the store API in {time.perf_counter() - start:.1f} s")
        where = ("--trials-folder", str(folder))
        for label, args in [
            ("list (table)", ("list", *where)),
            ("list --json", ("list", "--json", *where)),
            ("compare", ("compare", *where)),
            ("variants", ("variants", *where)),
            ("index", ("index", *where)),
        ]:
            best = min(timed(*args) for _ in range(3))
            print(f"mitosis-hydra {label:<13} {best:6.2f} s  (best of 3)")
        size = (folder / "index.html").stat().st_size
        print(f"index.html: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
