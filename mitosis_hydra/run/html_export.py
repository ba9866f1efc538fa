"""The HTML exporter of this process, and the request that asks another process to use it.

HTML uses the `mitosis` template (templates/mitosis): the markup of nbconvert's
`lab` template with a 5 KB stylesheet instead of the ~260 KB one `lab` inlines
into every file. Two kinds of process export for others, the single trial's
export process (report.py) and a sweep's export service (export_service.py);
both receive the same request, `path\njson-notebook`, encoded and answered
here, so the format exists once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat costs ~0.2 s to import: not before the kernel and helper start
    import nbformat

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "mitosis"
_EXPORTER: Any = None
_LOCK = threading.Lock()  # the warm-up thread and the trial may ask at the same time
_WARM = False  # warm ran in this process (or in the driver a sweep's worker forked from)


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


def loaded() -> bool:
    """True once this process has its exporter (nbconvert imported)."""
    return _EXPORTER is not None


def warm() -> None:
    """Pay the first export's one-off costs now: templates, lexers, regular expressions."""
    global _WARM
    if _WARM:
        return
    import nbformat

    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    html_exporter().from_notebook_node(notebook)
    _WARM = True


def write_html(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Render the notebook as HTML into `path`, in this process."""
    body, _resources = html_exporter().from_notebook_node(notebook)
    Path(path).write_text(body, encoding="utf-8")


def encode_request(notebook: nbformat.NotebookNode, path: Path) -> bytes:
    """Ask another process to write `notebook` as HTML at `path` (absolute: its cwd may differ)."""
    return f"{Path(path).resolve()}\n{json.dumps(notebook)}".encode()


def answer_request(request: bytes) -> None:
    """Do what `encode_request` asked: decode the notebook and write its HTML."""
    import nbformat

    head, _, body = request.partition(b"\n")
    write_html(nbformat.from_dict(json.loads(body)), Path(head.decode()))
