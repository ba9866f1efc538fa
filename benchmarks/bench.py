"""The benchmark suite: what a trial costs, compared with running the same notebook by hand.

    make bench            (or: .venv/bin/python benchmarks/bench.py [--reps N] [--quick])

Every case is the sine experiment of the quick-start project, run as a whole
process from a temporary git copy of that project (so the real trials
database is never touched) with this venv's Python:

  floor      benchmarks/floor.py: a 3-cell notebook run with nbclient in a fresh
             ipykernel, the result cloudpickled, HTML exported with the `lab` template
  trial      python -m project_pkg +exp=sine seed=S      (one recorded trial)
  sweep n=1  python -m project_pkg --multirun hydra/launcher=mitosis
             hydra.launcher.n_jobs=1 +exp=sine seed=S1,…,S6   (reported per trial)
  sweep n=2  the same with n_jobs=2
  papermill  papermill + `jupyter nbconvert --to html` (with the `bench` extra)
  bare       python -c "from project_pkg.sine import run; run(…)"

Cases run round-robin (rep 1 of every case, then rep 2, …) so that a change in
machine load hits them all alike; each rep uses a new seed, so every trial is
new. What is measured, per process (see `measure`):

  wall    time from spawn to exit
  CPU     user + system time of the process and of every descendant it waited
          for (the kernel included), from os.wait4's rusage
  driver  peak RSS (VmHWM) of the process we started, sampled from /proc until it exits
  max     the largest peak RSS of any single process of its tree (wait4's ru_maxrss)

The table shows medians and each median's ratio to the floor's. Then: the
phases of a sweep (before its first trial, its trials, after the last, read
from the trials' records), HTML size per trial, `--help` time, and the trials
store at scale (benchmarks/store_scale.py), and the scale targets of issue 12
(benchmarks/targets.py: a long sweep, …), each as a ratio to its own floor.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PY = sys.executable
BIN = Path(PY).parent
SWEEP_SIZE = 6


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    driver_mb: float
    max_mb: float


def measure(commands: list[list[str]], cwd: Path, log: Path) -> Sample:
    """Run the commands one after another; sum wall and CPU, take the largest RSS."""
    wall = cpu = driver = largest = 0.0
    with log.open("ab") as out:
        for command in commands:
            out.write(f"$ {' '.join(command)}\n".encode())
            out.flush()
            start = time.perf_counter()
            process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=out)
            peak_kb, status, usage = _wait_sampling(process.pid)
            wall += time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{tail}")
            cpu += usage.ru_utime + usage.ru_stime
            driver = max(driver, peak_kb / 1024)
            largest = max(largest, usage.ru_maxrss / 1024)
    return Sample(wall, cpu, driver, largest)


def _wait_sampling(pid: int) -> tuple[int, int, os.struct_rusage]:
    """Wait for `pid`, reading its VmHWM (peak RSS, monotonic) every 20 ms meanwhile."""
    peak = 0
    status_file = f"/proc/{pid}/status"
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited == pid:
            return peak, status, usage
        try:
            with open(status_file, encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            pass  # exiting right now
        time.sleep(0.02)


# -- the project the cases run in -------------------------------------------------


def make_project(tmp: Path) -> Path:
    """A git copy of the quick-start project (project_pkg + conf), committed and clean."""
    project = tmp / "project"
    project.mkdir()
    for name in ("project_pkg", "conf"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "bench project"], cwd=project, check=True)
    return project


def launcher_available(project: Path) -> bool:
    """True when Hydra lists the mitosis launcher plugin (`--info plugins`)."""
    shown = subprocess.run(
        [PY, "-m", "project_pkg", "--info", "plugins"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return "MitosisLauncher" in shown.stdout


def papermill_notebook(tmp: Path) -> Path:
    """The floor's notebook with a `parameters` cell, for papermill to inject the seed into."""
    import nbformat

    cells = [
        nbformat.v4.new_code_cell(
            "seed = 0\nresults = 'results.pkl'", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell("import cloudpickle\nfrom project_pkg.sine import run"),
        nbformat.v4.new_code_cell("result = run(seed=seed, amplitude=1.0)"),
        nbformat.v4.new_code_cell(
            "with open(results, 'wb') as handle:\n"
            "    cloudpickle.dump(result, handle)\n"
            "result['main']"
        ),
    ]
    path = tmp / "papermill-in.ipynb"
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=metadata), path)
    return path


# -- the cases ----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    commands: Callable[[int], list[list[str]]]  # rep number -> commands
    trials: int = 1  # the row shows time per trial
    samples: list[Sample] | None = None
    spans: list[tuple[int, float, float]] | None = None  # (rep, spawned, exited): time.time()
    seeds: Callable[[int], list[int]] | None = None  # a sweep's seeds, by rep


def cases(tmp: Path, with_sweep: bool, with_papermill: bool) -> list[Case]:
    """The rows of the table, floor first (the ratios divide by it)."""
    out = tmp / "outputs"
    app = [PY, "-m", "project_pkg"]
    experiment = ["+exp=sine", "amplitude=my_variant"]

    def floor(rep: int) -> list[list[str]]:
        return [[PY, str(HERE / "floor.py"), str(rep), str(out / f"floor-{rep}")]]

    def trial(rep: int) -> list[list[str]]:
        return [[*app, *experiment, f"seed={1000 + rep}"]]

    def sweep_seeds(rep: int, n_jobs: int) -> list[int]:
        return [100_000 * n_jobs + 10 * rep + i for i in range(SWEEP_SIZE)]

    def sweep(rep: int, n_jobs: int) -> list[list[str]]:
        seeds = ",".join(map(str, sweep_seeds(rep, n_jobs)))
        launcher = ["--multirun", "hydra/launcher=mitosis", f"hydra.launcher.n_jobs={n_jobs}"]
        return [[*app, *launcher, *experiment, f"seed={seeds}"]]

    def papermill(rep: int) -> list[list[str]]:
        executed = str(out / f"pm-{rep}.ipynb")
        parameters = ["-p", "seed", str(rep), "-p", "results", str(out / f"pm-{rep}.pkl")]
        return [
            [
                str(BIN / "papermill"),
                "--no-progress-bar",
                "-k",
                "python3",
                str(source),
                executed,
                *parameters,
            ],
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", executed],
        ]

    def bare(rep: int) -> list[list[str]]:
        return [[PY, "-c", f"from project_pkg.sine import run; run(seed={rep}, amplitude=1.0)"]]

    found = [Case("floor (nbclient + lab HTML)", floor), Case("mitosis_hydra trial", trial)]
    if with_sweep:
        for n in (1, 2):
            name = f"sweep of {SWEEP_SIZE}, n_jobs={n} (per trial)"
            found.append(
                Case(
                    name,
                    lambda rep, n=n: sweep(rep, n),
                    trials=SWEEP_SIZE,
                    seeds=lambda rep, n=n: sweep_seeds(rep, n),
                )
            )
    if with_papermill:
        source = papermill_notebook(tmp)
        found.append(Case("papermill + nbconvert --to html", papermill))
    found.append(Case("bare function call", bare))
    return found


def run_interleaved(found: list[Case], project: Path, reps: int, log: Path) -> None:
    """Rep 1 of every case, then rep 2, …; the starting case rotates with each rep."""
    for case in found:
        case.samples, case.spans = [], []
    for rep in range(1, reps + 1):
        order = found[rep % len(found) :] + found[: rep % len(found)]
        for case in order:
            spawned = time.time()
            sample = measure(case.commands(rep), project, log)
            case.samples.append(sample)
            case.spans.append((rep, spawned, time.time()))
            print(f"  rep {rep}: {case.name:<34} {sample.wall:6.2f} s", flush=True)


# -- reporting ------------------------------------------------------------------------


def medians(case: Case) -> Sample:
    samples = case.samples or []
    return Sample(
        statistics.median(s.wall for s in samples) / case.trials,
        statistics.median(s.cpu for s in samples) / case.trials,
        statistics.median(s.driver_mb for s in samples),
        statistics.median(s.max_mb for s in samples),
    )


def table(found: list[Case], notes: list[str]) -> str:
    floor = medians(found[0])
    head = (
        "| case | wall s | × floor | CPU s (incl. kernel) | × floor "
        "| driver peak RSS MB | largest process MB |"
    )
    lines = [head, "|" + "---|" * 7]
    for case in found:
        m = medians(case)
        lines.append(
            f"| {case.name} | {m.wall:.2f} | {m.wall / floor.wall:.2f} | {m.cpu:.2f} "
            f"| {m.cpu / floor.cpu:.2f} | {m.driver_mb:.0f} | {m.max_mb:.0f} |"
        )
    lines += [f"| {note} | | | | | | |" for note in notes]
    return "\n".join(lines)


def sweep_phases(found: list[Case], project: Path) -> list[str]:
    """Where a sweep's wall time goes, from its trials' records: before the first trial
    starts (Hydra, composing and checking every job, the first kernel), the trials
    themselves, and after the last one ends; and n_jobs=2's gain on the whole and on
    the trials alone."""
    from mitosis_hydra import list_trials

    records = {r.seed: r for r in list_trials(project / "trials")}
    lines, phases = [], {}
    for case in found:
        if case.seeds is None:
            continue
        before, during, after = [], [], []
        for rep, spawned, exited in case.spans or []:
            runs = [records[seed] for seed in case.seeds(rep)]
            first = min(r.started_at.timestamp() for r in runs)
            last = max(r.finished_at.timestamp() for r in runs if r.finished_at)
            before.append(first - spawned)
            during.append(last - first)
            after.append(exited - last)
        phases[case.name] = [statistics.median(x) for x in (before, during, after)]
        b, d, a = phases[case.name]
        lines.append(
            f"{case.name.removesuffix(' (per trial)')}: {b:.2f} s before the first trial, "
            f"{d:.2f} s of trials ({d / case.trials:.2f} s per trial), {a:.2f} s after the last"
        )
    if len(phases) == 2:
        (b1, d1, a1), (b2, d2, a2) = phases.values()
        lines.append(
            f"n_jobs=2 throughput / n_jobs=1: {(b1 + d1 + a1) / (b2 + d2 + a2):.2f}x for the "
            f"whole sweep, {d1 / d2:.2f}x for its trials alone (medians)"
        )
    return lines


def html_sizes(project: Path, tmp: Path) -> str:
    trials = sorted((project / "trials").glob("*/notebook.html"))
    floors = sorted((tmp / "outputs").glob("floor-*/notebook.html"))
    ours = statistics.median(p.stat().st_size for p in trials) / 1000 if trials else 0
    lab = statistics.median(p.stat().st_size for p in floors) / 1000 if floors else 0
    return f"HTML per text-only trial: {ours:.0f} KB (floor's `lab` export: {lab:.0f} KB)"


def help_time(project: Path, reps: int, log: Path) -> str:
    samples = [measure([[PY, "-m", "project_pkg", "--help"]], project, log) for _ in range(reps)]
    wall = statistics.median(s.wall for s in samples)
    cpu = statistics.median(s.cpu for s in samples)
    return f"`python -m project_pkg --help`: {wall:.2f} s wall, {cpu:.2f} s CPU (median of {reps})"


def store_scale(count: int, total: int) -> str:
    shown = subprocess.run(
        [PY, str(HERE / "store_scale.py"), str(count), str(total)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return shown.stdout.strip()


def scale_targets(quick: bool) -> str:
    """Issue 12's targets, each script in this folder measuring its own against its floor."""
    import big_variant
    import index_scale
    import long_sweep
    import reading_scale
    from targets import table as target_table

    rows = []
    rows += reading_scale.measure_targets(total=20_000 if quick else 100_000)
    rows += index_scale.measure_targets(total=20_000 if quick else 100_000)
    rows += long_sweep.measure_targets(trials=20 if quick else 100)
    # the list case only, 3 rounds: one round's own time is within the composition's noise
    # (both kinds: ~20 min; run big_variant.py alone for them)
    rows += big_variant.measure_targets(size_mb=0.3 if quick else 1.5, reps=3, kinds=("list",))
    return target_table(rows)


def machine() -> str:
    cores = os.cpu_count()
    release = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    return f"{cores} cores, Python {platform.python_version()}, {release}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="runs of each case (default 5)")
    parser.add_argument("--quick", action="store_true", help="1 rep, 2,000/20,000 store trials")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    began = time.perf_counter()
    print(f"benchmark on {machine()}, {time.strftime('%Y-%m-%d')}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mitosis-bench-") as name:
        tmp = Path(name)
        project = make_project(tmp)
        log = tmp / "bench.log"
        notes = []
        with_sweep = launcher_available(project)
        if not with_sweep:
            notes.append("sweeps: skipped, `--info plugins` does not list the mitosis launcher")
        with_papermill = (BIN / "papermill").exists()
        if not with_papermill:
            notes.append("papermill: skipped, not installed (pip install -e '.[bench]')")
        found = cases(tmp, with_sweep, with_papermill)
        print("warming up (one untimed run of each single-process case)", flush=True)
        for case in found:
            if case.trials == 1:
                measure(case.commands(0), project, log)
        run_interleaved(found, project, reps, log)
        extra = [*sweep_phases(found, project), html_sizes(project, tmp)]
        extra.append(help_time(project, reps, log))
        extra.append(store_scale(*((2_000, 20_000) if args.quick else (10_000, 100_000))))
    print(f"\nmedians of {reps} interleaved runs; ratios are to the floor's medians\n")
    print(table(found, notes))
    print()
    print("\n".join(extra))
    print("\nscale targets (each measured against its floor in this run)\n", flush=True)
    print(scale_targets(args.quick))
    print(f"\nbench took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
