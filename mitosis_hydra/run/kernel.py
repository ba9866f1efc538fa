"""Running a notebook in a fresh kernel, with the kernel's whole life in one place.

The kernel lives on an asyncio loop in a background thread, so that it can
boot while the driver does its bookkeeping, and so that Ctrl-C and SIGTERM
reach the driver's main thread, which then stops the kernel and says what
happened. Kernels talk over IPC sockets in a private temporary folder: parallel
trials never race for TCP ports.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import enum
import functools
import gc
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mitosis_hydra.core.errors import Interrupted
from mitosis_hydra.core.output_limit import DEFAULT_MAX_OUTPUT, StreamLimiter

if TYPE_CHECKING:
    import nbformat


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ExecutionOutcome(enum.StrEnum):
    """How a notebook's execution ended (the recipe turns it into a TrialStatus)."""

    OK = "ok"
    ERROR = "error"  # a cell raised, or the kernel could not start
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, or the kernel died


@dataclass(frozen=True)
class ExecutionResult:
    """How the notebook ended, and the error's text when it did not end well."""

    outcome: ExecutionOutcome
    error: str | None = None


class TrialKernel:
    """One fresh kernel for one notebook: start early, execute once, always shut down."""

    def __init__(self, cwd: str, env: dict[str, str] | None = None, zygote: Any = None) -> None:
        self.cwd = cwd
        self.zygote = zygote  # a zygote.KernelZygote to fork the kernel from, or None
        self.env = env if env is not None else kernel_env()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._socket_dir = tempfile.mkdtemp(prefix="mitosis-kernel-")
        self._process: Any = None  # subprocess.Popen, or zygote.ForkedKernel
        self._connection_file = ""
        self._kc: Any = None
        self._started: Future | None = None
        self._kill = True  # a kernel that never executed anything is killed, not asked

    def start(self) -> None:
        """Launch the kernel process now; connecting to it continues in the background."""
        self._process, self._connection_file = _launch(
            self.cwd, self.env, self._socket_dir, self.zygote
        )
        self._thread.start()
        self._started = asyncio.run_coroutine_threadsafe(self._connect(), self._loop)

    def execute(
        self,
        notebook: nbformat.NotebookNode,
        *,
        max_output: int = DEFAULT_MAX_OUTPUT,
        log_file: str | None = None,
    ) -> ExecutionResult:
        """Run every cell in order, stopping at the first error; outputs stay in `notebook`.

        Each cell keeps at most `max_output` characters per stream, head and tail,
        with a marker pointing at `log_file` for the whole stream (see output_limit).
        """
        if self._started is None:
            self.start()
        self._kill = False  # it ran code now: let it exit cleanly unless interrupted
        limits = (max_output, log_file)
        job = asyncio.run_coroutine_threadsafe(self._execute(notebook, limits), self._loop)
        try:
            with sigterm_as_exception():
                return _wait(job)
        except (KeyboardInterrupt, Interrupted) as stop:
            job.cancel()
            self._kill = True
            reason = "SIGTERM" if isinstance(stop, Interrupted) else "Ctrl-C (SIGINT)"
            return ExecutionResult(
                ExecutionOutcome.INTERRUPTED, f"the trial was stopped by {reason}"
            )

    @property
    def process(self) -> Any:
        """The kernel's process (subprocess.Popen or zygote.ForkedKernel), once started."""
        return self._process

    def shutdown(self, *, now: bool = False) -> None:
        """Stop the kernel and the loop; safe to call more than once. A kernel that ran code
        is asked to exit (up to 5 s); with `now` (an interrupted trial) it is killed."""
        if now:
            self._kill = True
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __enter__(self) -> TrialKernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    async def _connect(self) -> None:
        self._kc = _client_class()(connection_file=self._connection_file)
        self._kc.process = self._process
        self._kc.load_connection_file()
        # No heartbeat: it calls a kernel still booting after 1 s (CPU busy with parallel
        # trials) dead. Liveness comes from the process itself (ProcessKernelClient).
        self._kc.start_channels(hb=False)
        ready = asyncio.ensure_future(self._kc.wait_for_ready(timeout=120))
        while not ready.done():
            if self._process.poll() is not None:
                ready.cancel()
                raise RuntimeError(
                    f"the kernel ({sys.executable} -m ipykernel_launcher) exited with code "
                    f"{self._process.returncode} while starting; is ipykernel installed?"
                )
            await asyncio.wait([ready], timeout=0.05)
        ready.result()

    async def _execute(
        self, notebook: nbformat.NotebookNode, limits: tuple[int, str | None]
    ) -> ExecutionResult:
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        try:
            await asyncio.wrap_future(self._started)
        except Exception as error:  # the kernel died (or never came up) before the first cell
            code = self._process.poll() if self._process is not None else None
            if code is not None and code < 0:
                return ExecutionResult(
                    ExecutionOutcome.INTERRUPTED,
                    f"the kernel was killed (signal {-code}) before the trial ran",
                )
            return ExecutionResult(ExecutionOutcome.ERROR, f"the kernel could not start: {error}")
        client = _limited_client_class()(
            notebook,
            timeout=None,
            allow_errors=False,
            record_timing=True,
            log=_NBCLIENT_LOG,  # "Kernel died …" goes to stderr, never to stdout
        )
        client.kc = self._kc
        client.on_cell_executed = client.flush_limited
        try:
            client.reset_execution_trackers()
            for index, cell in enumerate(notebook.cells):
                client.limiter = StreamLimiter(*limits)
                if "mitosis-run" in cell.metadata.get("tags", []):
                    from mitosis_hydra.storage import faults

                    faults.inject("executing")  # a test hook (see faults.py)
                await client.async_execute_cell(cell, index)
        except CellExecutionError as error:
            return ExecutionResult(ExecutionOutcome.ERROR, _ANSI.sub("", str(error)))
        except DeadKernelError:
            return ExecutionResult(
                ExecutionOutcome.INTERRUPTED, "the kernel died while running the trial"
            )
        return ExecutionResult(ExecutionOutcome.OK)

    async def _shutdown(self) -> None:
        if self._started is not None and not self._started.done():
            self._started.cancel()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:  # e.g. nbclient's liveness poll after an interruption
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        process = self._process
        if self._kc is not None:
            if not self._kill and process is not None and process.poll() is None:
                self._kc.shutdown()  # ask politely on the control channel
            self._kc.stop_channels()
        if process is None:
            return
        for _ in range(100 if not self._kill else 0):  # up to 5 s to exit cleanly
            if process.poll() is not None:
                return
            await asyncio.sleep(0.05)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _launch(cwd: str, env: dict[str, str], socket_dir: str, zygote: Any) -> tuple[Any, str]:
    """Start `python -m ipykernel_launcher` on IPC sockets, without importing jupyter_client.

    With a zygote, the kernel is forked from it instead (see zygote.py).
    """
    connection = {
        "transport": "ipc",
        "ip": os.path.join(socket_dir, "kernel"),
        "shell_port": 1,
        "iopub_port": 2,
        "stdin_port": 3,
        "control_port": 4,
        "hb_port": 5,
        "key": secrets.token_hex(32),
        "signature_scheme": "hmac-sha256",
        "kernel_name": "python3",
    }
    path = os.path.join(socket_dir, "connection.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(connection, handle)
    os.chmod(path, 0o600)
    if zygote is not None:
        return zygote.fork_kernel(cwd, env, path), path
    process = subprocess.Popen(
        [sys.executable, "-m", "ipykernel_launcher", "-f", path],
        cwd=cwd,
        env={**env, "JPY_PARENT_PID": str(os.getpid())},  # the kernel exits if we die
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the driver, which decides
    )
    return process, path


def _nbclient_log() -> logging.Logger:
    """nbclient's own log lines (e.g. "Kernel died while waiting for execute reply."):
    on stderr, prefixed, and never through the root logger, which Hydra sends to stdout."""
    log = logging.getLogger("mitosis_hydra.nbclient")
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("nbclient: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
    return log


_NBCLIENT_LOG = _nbclient_log()


@functools.cache
def _limited_client_class() -> type:
    """nbclient's NotebookClient keeping each cell's streams bounded as they arrive."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_output

    class LimitedNotebookClient(NotebookClient):
        limiter: StreamLimiter | None = None

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            if msg["msg_type"] == "stream" and self.limiter is not None:
                content = msg["content"]
                text = self.limiter.take(content["name"], content["text"])
                if not text:
                    return None
                msg = {**msg, "content": {**content, "text": text}}
            return super().output(outs, msg, display_id, cell_index)

        def flush_limited(self, cell: Any, **_: Any) -> None:
            """Marker and tail of each cut stream, at the end of the cell (then coalesced)."""
            if self.limiter is not None:
                for name, text in self.limiter.finish():
                    cell.outputs.append(new_output("stream", name=name, text=text))

    return LimitedNotebookClient


def _client_class() -> type:
    """A kernel client that knows its process, so a dead kernel is seen at once."""
    from jupyter_client.asynchronous import AsyncKernelClient

    class ProcessKernelClient(AsyncKernelClient):
        process: Any = None  # subprocess.Popen or zygote.ForkedKernel

        async def is_alive(self) -> bool:  # type: ignore[override]
            return self.process is not None and self.process.poll() is None

    return ProcessKernelClient


_PRESTARTED: TrialKernel | None = None


def kernel_env() -> dict[str, str]:
    """The driver's environment, plus what keeps kernels quiet and figures inline."""
    env = dict(os.environ)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silence a debugpy warning
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def prestart(cwd: str, env: dict[str, str] | None = None) -> None:
    """Boot a kernel now, for the trial this process is about to compose.

    Hydra's imports and composition, git checks and locking then happen while
    the kernel boots. If no trial takes it (refused, `--cfg`, …), it is shut
    down at exit.
    """
    global _PRESTARTED
    if _PRESTARTED is None:
        _PRESTARTED = TrialKernel(cwd=cwd, env=env)
        _PRESTARTED.start()
        atexit.register(_shutdown_prestarted)


def take_prestarted(cwd: str) -> TrialKernel | None:
    """The prestarted kernel if it runs in `cwd` (each kernel serves one trial only)."""
    global _PRESTARTED
    kernel, _PRESTARTED = _PRESTARTED, None
    if kernel is not None and kernel.cwd != cwd:
        kernel.shutdown()
        return None
    return kernel


def _shutdown_prestarted() -> None:
    kernel = take_prestarted("")
    if kernel is not None:
        kernel.shutdown()


def _wait(job: Future) -> ExecutionResult:
    while True:  # short timeouts keep the main thread responsive to signals
        try:
            return job.result(timeout=0.5)
        except TimeoutError:
            continue


class sigterm_as_exception:
    """While active, SIGTERM raises `Interrupted` in the main thread (only there)."""

    deferring = 0  # inside `sigterm_deferred` blocks: a SIGTERM waits for their end
    pending = False

    def __enter__(self) -> None:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    @staticmethod
    def _raise(_signum: int, _frame: object) -> None:
        if not sigterm_as_exception.pending:
            atexit.register(gc.freeze)  # exiting soon: the last collection skips old objects
        if sigterm_as_exception.deferring:
            sigterm_as_exception.pending = True
            return
        raise Interrupted()


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """A SIGTERM (under `sigterm_as_exception`) arriving inside waits for the block's end.

    `record = recorder.open(plan)` inside it: the record is either not written, or
    written and assigned before `Interrupted` is raised, so it can be closed.
    """
    sigterm_as_exception.deferring += 1
    try:
        yield
    finally:
        sigterm_as_exception.deferring -= 1
        if not sigterm_as_exception.deferring and sigterm_as_exception.pending:
            sigterm_as_exception.pending = False
            raise Interrupted()
