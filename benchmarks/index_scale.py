"""The index at scale: `mitosis-hydra index` over 100,000 trials, its page size and time.

    .venv/bin/python benchmarks/index_scale.py [TOTAL=100000]

The trials are made with the store API and bulk copies (tests/many_trials.py:
two experiments, 23 variant combinations, sweeps of 50, a few percent failed;
no kernels; only the newest 60 notebooks are there, the others deleted) in a
temporary folder. Measured, each the median of RUNS whole processes run
round-robin (reading_scale.whole_processes: wall and CPU time):

  index   `mitosis-hydra index --trials-folder …`: read, aggregate, write the page
          and its data files
  floor   a bare Python process that fetches the same columns of the same rows
          with `sqlite3` and writes them as plain JSON: what any page of all
          the rows costs at least

then both again once every trial's notebook is there (a trials folder nobody
cleaned: each notebook is looked for, none ruled out by a listing), reported.

and, when Chromium is installed, the time the page takes to open in headless
Chromium from file:// (navigation start to the end of the page's script, read
from `performance.now()`), reported, not a target of the issue's.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from targets import TargetRow, table  # noqa: E402

PAGE_LIMIT = 2_000_000  # bytes: the "a browser opens at once"
WRITE_LIMIT = 2.0  # seconds, whole process
COLUMNS = (
    "key, experiment, name, status, seed, variants, started_at, wall_time, main, metrics, "
    "notebook, reproduction_of, sweep"
)
FLOOR = f"""
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT {COLUMNS} FROM trials ORDER BY started_at, key").fetchall()
with open(sys.argv[2], "w") as out:
    json.dump(rows, out)
"""
_OPENED = (
    "<script>document.body.setAttribute('data-opened',"
    "String(Math.round(performance.now())));</script>"
)


RUNS = 5


def open_time(page: Path, profile: Path) -> float | None:
    """Milliseconds from navigation to the end of the page's script, in headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    timed = page.with_name("timed.html")
    timed.write_text(page.read_text(encoding="utf-8").replace("</body>", _OPENED + "</body>"))
    found = []
    for _ in range(3):
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", timed.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        match = re.search(r'data-opened="(\d+)"', result.stdout)
        if match:
            found.append(float(match.group(1)))
    timed.unlink()
    return min(found) if found else None


def every_notebook_there(folder: Path) -> None:
    """Write the notebook file of every trial that names one inside the folder."""
    with sqlite3.connect(folder / "mitosis.sqlite") as conn:
        named = conn.execute("SELECT notebook FROM trials WHERE notebook IS NOT NULL").fetchall()
    for (notebook,) in named:
        path = folder / notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def measure_targets(total: int = 100_000, runs: int = RUNS) -> list[TargetRow]:
    """The index's targets of issue 12, each beside its floor measured in this run."""
    from many_trials import make_trials
    from reading_scale import whole_processes

    cli = str(Path(sys.executable).parent / "mitosis-hydra")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trials"
        make_trials(folder, total)
        floor_json = Path(tmp) / "floor.json"
        commands = {
            "index": [cli, "index", "--trials-folder", str(folder)],
            "floor": [sys.executable, "-c", FLOOR, str(folder / "mitosis.sqlite"), str(floor_json)],
        }
        (index, index_cpu), (floor, floor_cpu) = whole_processes(commands, runs).values()
        page = folder / "index.html"
        size = page.stat().st_size
        data = sum(f.stat().st_size for f in (folder / "index-data").rglob("*.js"))
        plain = floor_json.stat().st_size
        opened = open_time(page, Path(tmp) / "chromium-profile")
        every_notebook_there(folder)
        (full, full_cpu), (full_floor, _cpu) = whole_processes(commands, runs).values()
    n = f"{total:,}"
    rows = [
        TargetRow(
            f"`index` over {n} trials: a page ≤ 2 MB (plots aggregated, table paged)",
            f"{size / 1e6:.2f} MB page + {data / 1e6:.1f} MB of data files loaded on demand",
            f"all rows as plain JSON {plain / 1e6:.1f} MB",
            None,
            size <= PAGE_LIMIT,
        ),
        TargetRow(
            f"`index` over {n} trials written ≤ 2 s (whole process)",
            f"{index:.2f} s (CPU {index_cpu:.2f} s)",
            f"sqlite3 fetch + JSON write {floor:.2f} s (CPU {floor_cpu:.2f} s)",
            index / floor,
            index <= WRITE_LIMIT,
        ),
        TargetRow(
            f"`index` over {n} trials whose notebooks are all there ≤ 2 s (reported)",
            f"{full:.2f} s (CPU {full_cpu:.2f} s)",
            f"sqlite3 fetch + JSON write {full_floor:.2f} s",
            full / full_floor,
            full <= WRITE_LIMIT,
        ),
    ]
    if opened is not None:
        rows.append(
            TargetRow(
                f"index page of {n} trials opens in headless Chromium (reported)",
                f"{opened / 1000:.2f} s to the script's end",
                "—",
                None,
                opened <= 1000,
            )
        )
    return rows


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"index of {total:,} trials, whole processes, median of {RUNS}")
    print(table(measure_targets(total)))


if __name__ == "__main__":
    main()
