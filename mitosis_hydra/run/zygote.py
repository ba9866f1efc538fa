"""Fresh kernels for a sweep's worker, forked from a process that imported ipykernel once.

Importing ipykernel, IPython, zmq, tornado and debugpy is ~0.4 s of CPU, about
half of what a kernel costs a short trial. A sweep worker therefore starts one
*zygote*: a process that imports all that, starts nothing (no thread, no zmq
context, no event loop) and waits. For each trial it forks a child that
becomes a new kernel (`ipykernel.kernelapp.launch_new_instance` on the trial's
connection file, in its own session, cwd and environment). Every trial still
gets its own fresh process that never ran another trial's code.

What a forked kernel shares with its siblings: the modules above, already
imported, and the hash seed (PYTHONHASHSEED) of the zygote, so `set` iteration
order is the same across the worker's trials; `random` and numpy's global
generator are reseeded from the OS in every child. The zygote is the kernel's
parent: it reaps each kernel and reports its pid, then its exit status, on a
socket of the kernel's own, which is how the worker sees a kernel die
(`ForkedKernel.poll`). If the worker goes away, the zygote kills its kernels
and exits. Linux only; other systems start each kernel with `python -m
ipykernel_launcher`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

# What a kernel has imported by the time it is ready (beyond the standard library).
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.completer",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "tornado.platform.asyncio",
    "sqlite3",
    # Every trial's kernel seeds numpy (kernel_side.setup), and most experiments use it:
    # importing it costs each kernel ~0.15 s of CPU. Forking after it is imported is
    # safe (OpenBLAS stops its threads before fork and restarts them in the child).
    "numpy",
)


def available() -> bool:
    """Forking kernels needs fork, SOCK_SEQPACKET and descriptor passing: Linux."""
    return sys.platform == "linux"


class KernelZygote:
    """The worker's handle on its zygote process; `fork_kernel` never blocks."""

    def __init__(self, cwd: str, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = ours
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mitosis_hydra.run.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to the driver, which decides
        )
        theirs.close()

    def fork_kernel(self, cwd: str, env: dict[str, str], connection_file: str) -> ForkedKernel:
        """Ask for a kernel on `connection_file`; its pid arrives when the zygote is ready."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = json.dumps({"cwd": cwd, "env": env, "connection_file": connection_file})
        try:
            socket.send_fds(self._socket, [request.encode()], [theirs.fileno()])
        finally:
            theirs.close()
        return ForkedKernel(ours)

    def close(self) -> None:
        """Let the zygote go: it kills any kernel still alive, reaps them all and exits."""
        self._socket.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class ForkedKernel:
    """A kernel process forked by a zygote, with the parts of `Popen` TrialKernel uses."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._buffer = b""
        self._pid: int | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        while self._pid is None and self.returncode is None:
            self._read(block=True)
        return self._pid if self._pid is not None else -1

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._channel.settimeout(timeout)
        while self.returncode is None:
            self._read(block=True)
        return self.returncode

    def _read(self, block: bool) -> None:
        """Take the zygote's next line: first the pid, then the exit status."""
        if self._channel.fileno() < 0:  # closed: the status came, or the zygote is gone
            self.returncode = -1 if self.returncode is None else self.returncode
            return
        try:
            data = self._channel.recv(64) if block else self._channel.recv(64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except TimeoutError:
            raise subprocess.TimeoutExpired("kernel", self._channel.gettimeout() or 0) from None
        if not data:  # the zygote is gone; its kernels follow it (parent poller)
            self.returncode = -1 if self.returncode is None else self.returncode
            self._channel.close()
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            kind, _, value = line.decode().partition(" ")
            if kind == "pid":
                self._pid = int(value)
            else:
                self.returncode = int(value)
                self._channel.close()


# -- inside the zygote process ------------------------------------------------------


def _serve(fd: int) -> int:
    """Import what every kernel needs, then fork one kernel per request until EOF."""
    control = socket.socket(fileno=fd)
    for name in PRELOAD:
        __import__(name)
    children: dict[int, socket.socket] = {}
    signal.signal(signal.SIGCHLD, lambda *_: _reap(children, block=False))
    while True:
        message, fds, _flags, _address = socket.recv_fds(control, 1 << 20, 1)
        if not message:
            break
        reply = socket.socket(fileno=fds[0])
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
            if pid == 0:
                _become_kernel(json.loads(message), [control, reply, *children.values()])
            children[pid] = reply
            with contextlib.suppress(OSError):
                reply.sendall(f"pid {pid}\n".encode())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    for pid in list(children):  # the worker is done (or dead): no kernel outlives it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the kernel's group (it may have children)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # in case it had not called setsid() yet
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _reap(children, block=True)
    return 0


def _reap(children: dict[int, socket.socket], block: bool) -> None:
    """Collect exited kernels and tell each one's owner its exit status."""
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        reply = children.pop(pid, None)
        if reply is not None:
            with contextlib.suppress(OSError):
                reply.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            reply.close()


def _become_kernel(request: dict[str, Any], inherited: list[socket.socket]) -> None:
    """In the forked child: become `python -m ipykernel_launcher -f FILE`; never returns."""
    code = 1
    try:
        for sock in inherited:
            sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setsid()  # its own session: the worker kills the kernel's whole group
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        parent = str(os.getppid())  # the zygote: the kernel exits if it dies
        os.environ["JPY_PARENT_PID"] = parent
        # ipykernel read JPY_PARENT_PID when the zygote imported it: say it again
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        sys.argv.append(f"--IPKernelApp.parent_handle={parent}")
        sys.path[0] = request["cwd"]  # as `python -m` run in cwd would have it
        import random

        import numpy

        random.seed()
        numpy.random.seed()  # the zygote's global state is not a trial's: from the OS
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        import atexit

        # What the interpreter's exit would run (history, zmq, the user's own handlers).
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1])))
