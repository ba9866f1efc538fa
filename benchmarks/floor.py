"""The floor: what any notebook runner pays for the sine experiment, and nothing more.

    python benchmarks/floor.py SEED OUT_DIR        (run from the quick-start project)

Build a 3-cell notebook, run it with nbclient in a fresh ipykernel, cloudpickle
the result inside the kernel, export HTML with nbconvert's `lab` template. No
config composition, no git, no database: `bench.py` compares every other way
of running the same experiment to this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def notebook(seed: int, results: Path) -> nbformat.NotebookNode:
    cells = [
        "import cloudpickle\nfrom project_pkg.sine import run",
        f"result = run(seed={seed}, amplitude=1.0)",
        f"with open({str(results)!r}, 'wb') as handle:\n"
        "    cloudpickle.dump(result, handle)\n"
        "result['main']",
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


def main() -> None:
    seed, out = int(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    nb = notebook(seed, out / "results.pkl")
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    (out / "notebook.html").write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
