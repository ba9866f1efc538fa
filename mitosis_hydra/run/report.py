"""Writing executed notebooks to disk as HTML and/or ipynb.

HTML uses the `mitosis` template (templates/mitosis): the markup of nbconvert's
`lab` template with a 5 KB stylesheet instead of the ~260 KB one `lab` inlines
into every file, so a text-only trial's notebook is ~30 KB instead of ~280 KB.

Importing nbconvert costs ~0.45 s, and the first export in a process ~0.5 s
more than the later ones (~0.07 s): compiling the Jinja templates, the Python
lexer's and soupsieve's regular expressions. A single trial's driver is busy
composing the config and keeping records meanwhile, so `start_export_process`
pays all that in a separate process, on the other core, while the kernel
boots; the driver hands it the executed notebook. A sweep's trials hand
theirs to one export service started with the sweep (export_service.py).
Compiled templates are also cached on disk across processes.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitosis_hydra.run import export_service

if TYPE_CHECKING:  # nbformat costs ~0.2 s to import: not before the kernel and helper start
    import nbformat

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "mitosis"
_EXPORTER: Any = None
_LOCK = threading.Lock()  # the warm-up thread and the trial may ask at the same time
_HELPER: subprocess.Popen | None = None  # the export process, serving one export
_WARM = False  # warm_up ran in this process (or in the driver a sweep's worker forked from)


def html_exporter() -> Any:
    """The one HTML exporter of this process (nbconvert is imported on first use)."""
    global _EXPORTER
    with _LOCK:
        if _EXPORTER is None:
            from nbconvert import HTMLExporter

            # nbconvert warns about figures without alt text on every export; the
            # notebook is ours, the warning is noise to the researcher reading the summary.
            quiet = logging.getLogger("mitosis_hydra.nbconvert")
            quiet.setLevel(logging.ERROR)
            exporter = HTMLExporter(
                template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)], log=quiet
            )
            _cache_compiled_templates(exporter)
            _EXPORTER = exporter
        return _EXPORTER


def _cache_compiled_templates(exporter: Any) -> None:
    """Keep Jinja's compiled templates on disk: each new process then skips compiling them.

    Jinja checks each template's source checksum, so an edited template is recompiled.
    """
    from jinja2 import FileSystemBytecodeCache

    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(base) / "mitosis_hydra" / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: compile every time, as nbconvert does
    exporter.environment.bytecode_cache = FileSystemBytecodeCache(str(folder))


def start_export_process() -> None:
    """Boot the process that will export this process's next HTML notebook, warm.

    It imports nbconvert and renders a tiny notebook now, then waits on stdin
    for the real one. If nothing comes (a refused trial, `format=ipynb`), it is
    killed at exit; if it fails, the export happens here instead.
    """
    global _HELPER
    if _HELPER is None and _EXPORTER is None:
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
    global _WARM
    if _HELPER is not None or _WARM:
        return
    import nbformat

    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    html_exporter().from_notebook_node(notebook)
    _WARM = True


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
            body, _resources = html_exporter().from_notebook_node(notebook)
            shown.write_text(body, encoding="utf-8")
    assert shown is not None, fmt
    return shown


def _export_by_helper(notebook: nbformat.NotebookNode, path: Path) -> bool:
    """True if the export process wrote `path` (each helper serves one export)."""
    global _HELPER
    helper, _HELPER = _HELPER, None
    if helper is None:
        return False
    request = f"{path.resolve()}\n{json.dumps(notebook)}".encode()
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
    warm_up()
    request = sys.stdin.buffer.read()
    if not request:
        return 0  # the driver did not need an HTML export
    import nbformat

    head, _, body = request.partition(b"\n")
    notebook = nbformat.from_dict(json.loads(body))
    html, _resources = html_exporter().from_notebook_node(notebook)
    Path(head.decode()).write_text(html, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
