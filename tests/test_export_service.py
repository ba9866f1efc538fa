"""The export service of a sweep: one warm nbconvert process writing every trial's HTML."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from mitosis_hydra.run import export_service, report

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")


def _notebook(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(f"print({text!r})")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{text}\n")]
    return nbformat.v4.new_notebook(cells=[cell])


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, **kwargs,
    )  # fmt: skip


def test_trials_hand_their_notebook_to_the_service_and_never_import_nbconvert(tmp_path):
    done = _python(
        f"""
        import sys
        from pathlib import Path
        import nbformat
        from mitosis_hydra.run import export_service, report
        export_service.start()
        for n in range(2):
            cell = nbformat.v4.new_code_cell("print(1)")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"trial {{n}}\\n")]
            folder = Path({str(tmp_path)!r}) / f"t{{n}}"
            print(report.export_notebook(nbformat.v4.new_notebook(cells=[cell]), folder, "html"))
        print("nbconvert" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    first, second, imported = done.stdout.split()
    assert imported == "False"
    assert "trial 0" in Path(first).read_text() and "trial 1" in Path(second).read_text()


def test_without_a_service_here_the_trial_exports_itself(tmp_path, monkeypatch):
    elsewhere = json.dumps(["another-host", os.getpid(), str(tmp_path / "export.sock")])
    monkeypatch.setenv(export_service.SERVICE_VARIABLE, elsewhere)
    assert not export_service.available()
    assert export_service.export(_notebook("x"), tmp_path / "a.html") is False
    gone = json.dumps([os.uname().nodename, 2**22 + 7, str(tmp_path / "missing.sock")])
    monkeypatch.setenv(export_service.SERVICE_VARIABLE, gone)
    assert export_service.export(_notebook("x"), tmp_path / "b.html") is False
    shown = report.export_notebook(_notebook("written here"), tmp_path / "t", "html")
    assert "written here" in shown.read_text()


def test_the_service_exits_when_its_driver_is_killed(tmp_path):
    driver = subprocess.Popen(
        [
            sys.executable, "-c",
            "import os, sys, time\n"
            "from mitosis_hydra.run import export_service\n"
            "export_service.start()\n"
            "print(os.environ[export_service.SERVICE_VARIABLE], flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    _host, service, address = json.loads(driver.stdout.readline())
    deadline = time.monotonic() + 60
    while not Path(address).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Path(address).exists(), "the service never listened"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    driver.stdout.close()
    deadline = time.monotonic() + 10
    while _running(service) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(service), f"export service {service} outlived its driver"


def _running(pid: int) -> bool:
    """Alive and not a zombie (whoever inherited it may not have reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
