"""The driver's memory when an experiment prints 50 MB (target: ≤ 150 MB peak RSS).

    .venv/bin/python benchmarks/huge_output.py [--mb 50] [--max-output 1000000]

Runs one recorded trial, from a temporary git copy of the quick-start project
with one more experiment that prints `--mb` MB in lines of 100 characters, and
reports the peak RSS (VmHWM, sampled from /proc) of the driver process, the
largest peak of any process of its tree (the kernel included), the sizes of
notebook.html and trial.log, and the wall time. The notebook keeps the head and
tail of the output (`mitosis.max_output` characters per cell and stream); the
log keeps all of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import _wait_sampling, make_project  # the same measurement as bench

_LOUD = """
def run(seed, megabytes=50, **params):
    line = "x" * 99
    for _ in range(megabytes * 10_000):
        print(line)
    return {"main": float(megabytes)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="megabytes printed (default 50)")
    parser.add_argument("--max-output", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mitosis-huge-") as tmp:
        project = make_project(Path(tmp))
        (project / "project_pkg" / "loud.py").write_text(_LOUD.lstrip())
        (project / "conf" / "exp" / "loud.yaml").write_text(
            f"run: project_pkg.loud:run\nmegabytes: {args.mb}\n"
        )
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        subprocess.run([*git, "add", "-A"], cwd=project, check=True)
        subprocess.run([*git, "commit", "-qm", "loud"], cwd=project, check=True)
        command = [
            sys.executable,
            "-m",
            "project_pkg",
            "+exp=loud",
            f"mitosis.max_output={args.max_output}",
        ]
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True)
        peak_kb, status, usage = _wait_sampling(process.pid)
        wall = time.perf_counter() - start
        output = process.stdout.read() if process.stdout else ""
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"the trial exited {code}:\n{output}")
        [folder] = [p for p in (project / "trials").iterdir() if p.is_dir() and p.name[0] != "."]
        html = (folder / "notebook.html").stat().st_size
        log = (folder / "trial.log").stat().st_size
    print(f"printed {args.mb} MB, mitosis.max_output={args.max_output:,}")
    print(f"driver peak RSS          {peak_kb / 1024:7.1f} MB  (target ≤ 150 MB)")
    print(f"largest process peak RSS {usage.ru_maxrss / 1024:7.1f} MB  (kernel included)")
    print(f"notebook.html            {html / 1e6:7.2f} MB")
    print(f"trial.log                {log / 1e6:7.2f} MB")
    print(f"wall                     {wall:7.1f} s")


if __name__ == "__main__":
    main()
