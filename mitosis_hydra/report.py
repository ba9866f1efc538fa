"""Writing executed notebooks to disk as HTML and/or ipynb."""

from __future__ import annotations

from pathlib import Path

import nbformat

_EXPORTER = None


def _html_exporter():
    # Importing nbconvert costs ~0.65 s: only pay it when a notebook is exported,
    # and reuse the exporter (its templates) across trials of one process.
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(template_name="lab")
    return _EXPORTER


def export_notebook(notebook: nbformat.NotebookNode, folder: Path, fmt: str) -> Path:
    """Write the notebook in `fmt` (html, ipynb or both); return the path to show a reader."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = None
    if fmt in ("ipynb", "both"):
        shown = folder / "notebook.ipynb"
        nbformat.write(notebook, shown)
    if fmt in ("html", "both"):
        body, _resources = _html_exporter().from_notebook_node(notebook)
        shown = folder / "notebook.html"
        shown.write_text(body, encoding="utf-8")
    assert shown is not None, fmt
    return shown
