"""A test hook: a real SIGKILL at a named phase of a trial, to prove nothing is lost.

With `MITOSIS_HYDRA_FAULT=<phase>` in its environment, a trial's driver (the
single-trial process, or the sweep worker running the trial) kills itself
with SIGKILL when it reaches that phase; `MITOSIS_HYDRA_FAULT=kernel@<phase>`
kills the trial's kernel there instead. Phases, in order:

- `before-locks`: the trial is composed and git checked; nothing is recorded yet
- `record-opened`: the `running` record, its locks and iteration were just written
- `executing`: the kernel ran the setup cells and is about to call `run`
- `exporting`: the notebook ran; the HTML is about to be written
- `closing`: inside the transaction that writes the final status, before it commits

`MITOSIS_HYDRA_FAULT=sigterm@<phase>` sends the driver a real SIGTERM there instead
(what `kill` or a batch scheduler sends), at the phases above or at `own-values`: the
job's options are being read from their sources, before any trial is set up.

Used by tests/test_faults.py and tests/test_big_variant.py; unset (as it always is for
users) it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

FAULT_VARIABLE = "MITOSIS_HYDRA_FAULT"
PHASES = ("before-locks", "record-opened", "executing", "exporting", "closing")
SIGTERM_ONLY_PHASES = ("own-values",)  # before a trial is set up: nothing to kill but the job

_armed = False  # only a process that runs a trial (not a sweep's driver closing orphans)
_kernel: Any = None  # the kernel process (Popen or zygote.ForkedKernel) of the trial


def arm(kernel_process: Any) -> None:
    """This process now runs a trial in this kernel (the target of `kernel@<phase>`)."""
    global _armed, _kernel
    _armed, _kernel = True, kernel_process


def inject(phase: str) -> None:
    """SIGKILL the driver (or its kernel) if the test hook asks for `phase`."""
    wanted = os.environ.get(FAULT_VARIABLE)
    if wanted == f"sigterm@{phase}":  # from outside, as it were: the process decides what next
        print(f"{FAULT_VARIABLE}: SIGTERM at {phase}, {time.time():.3f}", file=sys.stderr)
        sys.stderr.flush()  # the time it was sent: benchmarks/big_variant.py reads it
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if not wanted or not _armed:
        return
    if wanted == phase:
        os.kill(os.getpid(), signal.SIGKILL)
    elif wanted == f"kernel@{phase}" and _kernel is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(_kernel.pid, signal.SIGKILL)  # the kernel, in its own session
