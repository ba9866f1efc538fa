"""A long sweep: 100 short trials with the mitosis launcher, against the floor of one trial.

    .venv/bin/python benchmarks/long_sweep.py [TRIALS=100] [N_JOBS=2]

The quick-start project's sine experiment swept over TRIALS seeds, as a whole
process from a temporary git copy of the project. Per-trial wall is the whole
sweep's wall (spawn to exit) divided by TRIALS; the floor is benchmarks/floor.py
(one bare nbclient run + lab HTML, median of 3) in the same run.

Memory is sampled every 50 ms while the sweep runs: the driver's peak RSS
(VmHWM of the process started) and the largest RSS of any process below it
(workers, kernels, the export service), read when the 10th trial's notebook
appears, at half the sweep and at the end. A driver that keeps something per
trial grows between the first and last readings; a worker grows a few MB over
its first tens of trials (allocator and import caches) and must then stay flat.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from bench import PY, make_project, measure  # noqa: E402
from process_tree import descendants  # noqa: E402
from targets import TargetRow, table  # noqa: E402


def _kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _memory(driver: int) -> tuple[float, float]:
    """MB: the driver's peak RSS so far, and the largest RSS below it right now."""
    below = [_kb(pid, "VmRSS") for pid in descendants(driver)]
    return _kb(driver, "VmHWM") / 1024, max(below, default=0) / 1024


def run_sweep(project: Path, trials: int, n_jobs: int, first_seed: int) -> dict[str, float]:
    seeds = ",".join(str(first_seed + i) for i in range(trials))
    command = [
        PY, "-m", "project_pkg", "--multirun", "hydra/launcher=mitosis",
        f"hydra.launcher.n_jobs={n_jobs}", "hydra.launcher.progress=false",
        "+exp=sine", "amplitude=my_variant", f"seed={seeds}",
    ]  # fmt: skip
    folder = project / "trials"
    before = len(list(folder.glob("*/notebook.html")))
    at: dict[int, tuple[float, float]] = {}
    latest = (0.0, 0.0)
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    while process.poll() is None:
        reading = _memory(process.pid)
        latest = reading if reading[0] else latest  # 0: the driver is exiting
        done = len(list(folder.glob("*/notebook.html"))) - before
        for mark in (10, trials // 2, trials):
            if done >= mark and mark not in at:
                at[mark] = latest
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"the sweep exited {process.returncode}:\n{process.stderr.read()}")
    last = at.get(trials, latest)  # the last notebook may appear as the driver exits
    return {
        "per_trial": wall / trials,
        "driver_10": at[10][0],
        "driver_end": last[0],
        "worker_10": at[10][1],
        "worker_half": at[trials // 2][1],
        "worker_end": last[1],
    }


def measure_targets(trials: int = 100, n_jobs: int = 2) -> list[TargetRow]:
    with tempfile.TemporaryDirectory(prefix="mitosis-long-sweep-") as name:
        tmp = Path(name)
        project = make_project(tmp)
        log = tmp / "bench.log"
        floor_command = [[PY, str(HERE / "floor.py"), "0", str(tmp / "floor-0")]]
        measure(floor_command, project, log)  # warm the caches once
        floors = [
            measure([[PY, str(HERE / "floor.py"), str(n), str(tmp / f"floor-{n}")]], project, log)
            for n in range(1, 4)
        ]
        floor = statistics.median(sample.wall for sample in floors)
        swept = run_sweep(project, trials, n_jobs, first_seed=10_000)
    ratio = swept["per_trial"] / floor
    grew = swept["driver_end"] - swept["driver_10"]
    worker_grew = swept["worker_end"] - swept["worker_half"]  # warm-up growth settles early
    return [
        TargetRow(
            f"sweep of {trials} short trials, n_jobs={n_jobs}: wall per trial ≤ 0.25× floor",
            f"{swept['per_trial']:.2f} s",
            f"one bare nbclient trial {floor:.2f} s",
            ratio,
            ratio <= 0.25,
        ),
        TargetRow(
            f"the driver's memory flat over the sweep (peak RSS at trial 10 = at trial {trials})",
            f"{swept['driver_10']:.0f} → {swept['driver_end']:.0f} MB",
            "",
            None,
            grew <= 2,
        ),
        TargetRow(
            f"largest process below the driver: RSS flat from trial {trials // 2} to {trials}",
            f"{swept['worker_10']:.1f} → {swept['worker_half']:.1f} → {swept['worker_end']:.1f} MB"
            f" (trials 10, {trials // 2}, {trials})",
            "",
            None,
            worker_grew <= 1,
        ),
    ]


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n_jobs = int(sys.argv[2]) if len(sys.argv) > 2 else min(2, os.cpu_count() or 1)
    print(table(measure_targets(trials, n_jobs)))


if __name__ == "__main__":
    main()
