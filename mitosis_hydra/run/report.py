"""Writing executed notebooks to disk as HTML and/or ipynb.

Importing nbconvert costs ~0.45 s, and the first export in a process ~0.5 s
more than the later ones (~0.07 s): compiling the Jinja templates, the Python
lexer's and soupsieve's regular expressions. A single trial's driver is busy
composing the config and keeping records meanwhile, so `start_export_process`
pays all that in a separate process, on the other core, while the kernel
boots; the driver hands it the executed notebook. A sweep's trials hand
theirs to one export service started with the sweep (export_service.py).
Compiled templates are also cached on disk across processes (html_export.py).
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mitosis_hydra.run import export_service, html_export

if TYPE_CHECKING:  # nbformat costs ~0.2 s to import: not before the kernel and helper start
    import nbformat

_HELPER: subprocess.Popen | None = None  # the export process, serving one export


def start_export_process() -> None:
    """Boot the process that will export this process's next HTML notebook, warm.

    It imports nbconvert and renders a tiny notebook now, then waits on stdin
    for the real one. If nothing comes (a refused trial, `format=ipynb`), it is
    killed at exit; if it fails, the export happens here instead.
    """
    global _HELPER
    if _HELPER is None and not html_export.loaded():
        _HELPER = subprocess.Popen(
            [sys.executable, "-m", "mitosis_hydra.run.report"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to the driver, which decides
        )
        atexit.register(_stop_helper)


def warm_up() -> None:
    """Pay the first export's one-off costs now (unless an export process does it)."""
    if _HELPER is None:
        html_export.warm()


def export_notebook(notebook: nbformat.NotebookNode, folder: Path, fmt: str) -> Path:
    """Write the notebook in `fmt` (html, ipynb or both); return the path to show a reader."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = None
    if fmt in ("ipynb", "both"):
        import nbformat

        shown = folder / "notebook.ipynb"
        nbformat.write(notebook, shown)
    if fmt in ("html", "both"):
        shown = folder / "notebook.html"
        if not _export_by_helper(notebook, shown) and not export_service.export(notebook, shown):
            html_export.write_html(notebook, shown)
    assert shown is not None, fmt
    return shown


def _export_by_helper(notebook: nbformat.NotebookNode, path: Path) -> bool:
    """True if the export process wrote `path` (each helper serves one export)."""
    global _HELPER
    helper, _HELPER = _HELPER, None
    if helper is None:
        return False
    request = html_export.encode_request(notebook, path)
    try:
        helper.communicate(request, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        pass
    finally:  # interrupted, timed out or done: it never outlives its one export
        if helper.poll() is None:
            helper.kill()
            helper.wait()
    return helper.returncode == 0 and path.is_file()


def _stop_helper() -> None:
    if _HELPER is not None and _HELPER.poll() is None:
        _HELPER.kill()
        _HELPER.wait()


def _serve() -> int:
    """The export process: warm up, then export the one notebook sent on stdin."""
    html_export.warm()
    request = sys.stdin.buffer.read()
    if not request:
        return 0  # the driver did not need an HTML export
    html_export.answer_request(request)
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
