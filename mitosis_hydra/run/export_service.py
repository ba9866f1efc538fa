"""One HTML export process serving every trial of a sweep, warmed while Hydra starts.

A sweep's driver used to import nbconvert and render a first notebook
(~1.4 s, in a thread that shares the GIL with Hydra's composition) before
forking its workers, so each inherited a warm exporter. Instead, `main`
starts this service before it even imports Hydra: a separate process, on the
other core, imports nbconvert and compiles the templates while the driver
composes and checks the sweep. Workers (forked, or any launcher's processes
on this machine: the socket's path travels in the environment) send it each
executed notebook over a Unix socket and get back `ok` once the HTML is
written. If the service is gone or fails, the trial exports the notebook
itself, as before; the service exits when its driver does, even when killed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mitosis_hydra.run import html_export

if TYPE_CHECKING:
    import nbformat

SERVICE_VARIABLE = "MITOSIS_HYDRA_EXPORT_SERVICE"  # JSON: [host, pid, socket path]
_OK = b"ok\n"
_TIMEOUT = 300.0  # seconds one export may take before the trial exports it itself


def start() -> None:
    """Start the service for this process and everything it starts (idempotent)."""
    if os.environ.get(SERVICE_VARIABLE) or sys.platform == "win32":
        return
    folder = tempfile.mkdtemp(prefix="mitosis-export-")
    path = os.path.join(folder, "export.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "mitosis_hydra.run.export_service", path, str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to the driver, which decides
    )
    # SLURM copies the environment to other machines: the host says where it is valid.
    os.environ[SERVICE_VARIABLE] = json.dumps([socket.gethostname(), process.pid, path])
    atexit.register(_stop, process, folder)


def available() -> bool:
    """True when a service was started for this process tree on this machine."""
    return _here() is not None


def export(notebook: nbformat.NotebookNode, path: Path) -> bool:
    """True if the service wrote `path` as HTML; False means: export it yourself."""
    address = _address()
    if address is None:
        return False
    request = html_export.encode_request(notebook, path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(_TIMEOUT)
            conn.connect(address)
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            reply = _read_all(conn)
    except OSError:
        return False
    return reply == _OK and path.is_file()


def _here() -> tuple[int, str] | None:
    """The service's pid and socket path, if one was started on this machine."""
    try:
        host, pid, address = json.loads(os.environ[SERVICE_VARIABLE])
    except (KeyError, ValueError):
        return None
    return (pid, address) if host == socket.gethostname() else None


def _address() -> str | None:
    """The service's socket once it listens (after warming up); None if there is none here."""
    service = _here()
    if service is None:
        return None
    pid, address = service
    deadline = time.monotonic() + 60
    while not os.path.exists(address):
        if not _exists(pid) or time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    return address


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, run by someone else
        pass
    return True


def _stop(process: subprocess.Popen, folder: str) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


# -- inside the service process -----------------------------------------------------


def _serve(address: str, driver: int) -> int:
    """Warm up, then export each notebook sent, one at a time, while the driver lives."""
    html_export.warm()
    listening = address + ".binding"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listening)
    server.listen(16)
    os.replace(listening, address)  # clients see the path only once it accepts
    server.settimeout(1.0)
    while _alive(driver):
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(_TIMEOUT)
            with contextlib.suppress(OSError):
                conn.sendall(_answer(_read_all(conn)))
    return 0


def _answer(request: bytes) -> bytes:
    try:
        html_export.answer_request(request)
    except Exception as error:  # the trial then exports it itself, and sees the error
        return f"error {type(error).__name__}: {error}\n".encode()
    return _OK


def _alive(pid: int) -> bool:
    """The driver still runs (a killed driver leaves us to init, or to a subreaper)."""
    return os.getppid() == pid


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], int(sys.argv[2])))
