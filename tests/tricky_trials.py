"""A trials folder with every kind of row the index shows, to compare two ways of writing it.

On top of tests/many_trials.py (two experiments, sweeps, failed and interrupted
trials, deleted notebooks, more rows than one data file holds), trials recorded
through the store API with what JSON cannot hold or holds oddly (NaN, ±inf, -0.0,
text, lists, big ints, booleans, non-ASCII and `<` in text), one still `running`
(its driver is this process), one whose driver died (closed as `lost` when read),
a reproduction, notebooks outside the trials folder (present and gone), a trial
folder whose notebook was deleted, and notebook paths the database holds oddly
(`..`, a name that differs only in case from a folder that exists).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from many_trials import START, _variant, make_trials

from mitosis_hydra.core.records import TrialPlan, TrialStatus
from mitosis_hydra.storage import liveness, schema
from mitosis_hydra.storage.store import TrialStore, new_key

ODD_VALUES = [
    float("nan"), float("inf"), float("-inf"), -0.0, 1e16, 1e-05, 2.5e-07, 0.1, 3, 10**20,
    -(2**53) - 1, True, False, None, "text", "naïve ✓ <b>&", [1, 2.5], {"a": 1}, 1e308, 5e-324,
]  # fmt: skip


def make_tricky(folder: Path, total: int = 12_000) -> TrialStore:
    """The folder described above, `total` rows from many_trials plus the odd ones."""
    store = make_trials(folder, total, per_combo=2, seed=3)
    rng = random.Random(7)
    outside = folder.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    for n, value in enumerate(ODD_VALUES):
        other = ODD_VALUES[(n * 7 + 3) % len(ODD_VALUES)]
        record = _begin(store, "odd", {"kind": f"v{n % 4}", "ünï": "ç<é>"}, n, None)
        notebook = [
            record.folder / "notebook.html",  # written below for some
            outside / f"{record.name}.html",  # outside the folder: absolute
            None,
        ][n % 3]
        if notebook is not None and n % 2 == 0:
            notebook.parent.mkdir(parents=True, exist_ok=True)
            notebook.write_text("<h1>odd</h1>\n", encoding="utf-8")
        store.finish_trial(
            record.key,
            status=TrialStatus.FINISHED if n % 5 else TrialStatus.FAILED,
            notebook=notebook,
            main=value,
            metrics={"m": value, "other": other, "zzz ✓": rng.random(), "big": 2**64 + n},
        )
    finished = store.list_trials(experiment="sine", status="finished")
    reproduced = _begin(store, "sine", dict(finished[-1].variants), 99, finished[-1].key)
    store.finish_trial(
        reproduced.key, status=TrialStatus.FINISHED, notebook=None, main=1.5, metrics={"x": 2}
    )
    _begin(store, "sine", dict(finished[-2].variants), 100, None, pid=os.getpid())  # running
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # lost: its driver is gone by the time the index reads it
        _begin(store, "sine", dict(finished[-3].variants), 101, None, pid=driver.pid)
    finally:
        driver.kill()
        driver.wait()
    _odd_paths(store, finished[-6:-3])
    return store


def _begin(
    store: TrialStore,
    experiment: str,
    variants: dict[str, str],
    seconds: int,
    reproduction_of: str | None,
    pid: int | None = None,
):
    plan = TrialPlan(
        key=new_key(),
        experiment=experiment,
        variants=variants,
        tracked=tuple(_variant(g, v) for g, v in sorted(variants.items())),
        commit="0123456789abcdef0123456789abcdef01234567",
        seed=seconds,
        host=socket.gethostname(),
        started_at=START + timedelta(days=400, seconds=seconds),
        trials_folder=store.trials_folder,
        reproduction_of=reproduction_of,
        pid=pid,
        pid_start=liveness.process_start(pid) if pid else None,
    )
    return store.begin_trial(plan)


def _odd_paths(store: TrialStore, records) -> None:
    """Notebook paths as a database may hold them: through `..`, in another case, gone."""
    folder = store.trials_folder
    first, second, third = records
    (folder / first.name).mkdir(exist_ok=True)
    (folder / first.name / "notebook.html").write_text("<h1>dots</h1>\n", encoding="utf-8")
    paths = {
        first.key: f"../{folder.name}/{first.name}/notebook.html",  # there, through `..`
        second.key: f"{second.name.upper()}/notebook.html",  # a case that is not there
        third.key: f"{third.name}/notebook.html",  # its folder there, the notebook deleted
    }
    (folder / third.name).mkdir(exist_ok=True)
    (folder / third.name / "notebook.html").unlink(missing_ok=True)
    table = schema.trials
    with store.engine.begin() as conn:
        for key, path in paths.items():
            conn.execute(table.update().where(table.c.key == key).values(notebook=path))
