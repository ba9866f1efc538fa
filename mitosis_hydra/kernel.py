"""Running a notebook in a fresh kernel, with the kernel's whole life in one place.

The kernel lives on an asyncio loop in a background thread, so that it can
boot while the driver does its bookkeeping, and so that Ctrl-C and SIGTERM
reach the driver's main thread, which then stops the kernel and says what
happened. Kernels talk over IPC sockets in a private temporary folder: parallel
trials never race for TCP ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import nbformat

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class ExecutionResult:
    """How the notebook ended: `ok`, `error` (a cell raised) or `interrupted`."""

    outcome: str
    error: str | None = None


class Interrupted(BaseException):
    """SIGTERM, turned into an exception like KeyboardInterrupt is for SIGINT."""


class TrialKernel:
    """One fresh kernel for one notebook: start early, execute once, always shut down."""

    def __init__(self, cwd: str, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = env
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._socket_dir = tempfile.mkdtemp(prefix="mitosis-kernel-")
        self._km: Any = None
        self._kc: Any = None
        self._started: Future | None = None
        self._kill = False

    def start(self) -> None:
        """Begin booting the kernel; returns at once."""
        self._thread.start()
        self._started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)

    def execute(self, notebook: nbformat.NotebookNode) -> ExecutionResult:
        """Run every cell in order, stopping at the first error; outputs stay in `notebook`."""
        if self._started is None:
            self.start()
        job = asyncio.run_coroutine_threadsafe(self._execute(notebook), self._loop)
        try:
            with _sigterm_as_exception():
                return _wait(job)
        except (KeyboardInterrupt, Interrupted) as stop:
            job.cancel()
            self._kill = True
            reason = "SIGTERM" if isinstance(stop, Interrupted) else "Ctrl-C (SIGINT)"
            return ExecutionResult("interrupted", f"the trial was stopped by {reason}")

    def shutdown(self) -> None:
        """Stop the kernel and the loop; safe to call more than once."""
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __enter__(self) -> TrialKernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    async def _start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self._km = AsyncKernelManager(
            kernel_name="python3",
            transport="ipc",
            ip=os.path.join(self._socket_dir, "kernel"),
            connection_file=os.path.join(self._socket_dir, "connection.json"),
        )
        await self._km.start_kernel(cwd=self.cwd, env=self.env)
        self._kc = self._km.client()
        self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=120)

    async def _execute(self, notebook: nbformat.NotebookNode) -> ExecutionResult:
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        await asyncio.wrap_future(self._started)
        client = NotebookClient(
            notebook, km=self._km, timeout=None, allow_errors=False, record_timing=True
        )
        client.kc = self._kc
        try:
            client.reset_execution_trackers()
            for index, cell in enumerate(notebook.cells):
                await client.async_execute_cell(cell, index)
        except CellExecutionError as error:
            return ExecutionResult("error", _ANSI.sub("", str(error)))
        except DeadKernelError:
            return ExecutionResult("interrupted", "the kernel died while running the trial")
        return ExecutionResult("ok")

    async def _shutdown(self) -> None:
        if self._started is not None and not self._started.done():
            self._started.cancel()
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None and self._km.has_kernel:
            with contextlib.suppress(RuntimeError):
                await self._km.shutdown_kernel(now=self._kill)


def _wait(job: Future) -> ExecutionResult:
    while True:  # short timeouts keep the main thread responsive to signals
        try:
            return job.result(timeout=0.5)
        except TimeoutError:
            continue


class _sigterm_as_exception:
    """While active, SIGTERM raises `Interrupted` in the main thread (only there)."""

    def __enter__(self) -> None:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    @staticmethod
    def _raise(_signum: int, _frame: object) -> None:
        raise Interrupted()
