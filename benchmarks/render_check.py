"""Look at what the trial notebook template renders: a figure, tables, stderr, a traceback.

    .venv/bin/python benchmarks/render_check.py [OUT_DIR]

Runs one small notebook in a fresh kernel, exports it with mitosis_hydra's
template and with nbconvert's `lab` template, prints both sizes, and (when
chromium is installed) takes a screenshot of each to compare by eye.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from mitosis_hydra.run.report import export_notebook

CELLS = [
    "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.title('an inline figure')",
    "from IPython.display import HTML\n"
    "HTML('<table><thead><tr><th></th><th>main</th><th>estimate</th></tr></thead><tbody>'\n"
    "     + ''.join(f'<tr><th>{i}</th><td>{i / 7:.4f}</td><td>{i * 1.5}</td></tr>' "
    "for i in range(4))\n     + '</tbody></table>')",
    "import sys\nprint('to stdout'); print('to stderr', file=sys.stderr)",
    "def run(x):\n    return 1 / x\n\nrun(0)",
]
MARKDOWN = (
    "# A trial\n\nSome *markdown*, `code`, and a table:\n\n| group | name |\n|-|-|\n| a | b |"
)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "render-check")
    cells = [nbformat.v4.new_markdown_cell(MARKDOWN)]
    cells += [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, allow_errors=True, kernel_name="python3").execute()
    ours = export_notebook(nb, out, "html")
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    lab = out / "lab.html"
    lab.write_text(body, encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    for page in (ours, lab):
        print(f"{page}: {page.stat().st_size / 1000:.0f} KB")
        if browser:
            shot = page.with_suffix(".png")
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--window-size=1000,1400", f"--screenshot={shot}", page.resolve().as_uri()],
                check=False, capture_output=True, timeout=120,
            )  # fmt: skip
            print(f"  screenshot: {shot}")


if __name__ == "__main__":
    main()
