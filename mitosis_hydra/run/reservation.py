"""How a job submitted without waiting finds the trial its sweep reserved for it.

A sweep with `hydra.launcher.wait=false` reserves each job's trial (`queued`)
before submitting, then submits every job with `$MITOSIS_RESERVED` set in the
submitting environment (SLURM and submitit's local executor pass it to the
job): the sweep's id and, per Hydra job number, the key reserved for it. A
job of that sweep takes over its key instead of opening a new record; nothing
is added to the job's config or overrides, so the recorded overrides (and
`mitosis-hydra reproduce`) are those of an ordinary sweep's job.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

RESERVED_VARIABLE = "MITOSIS_RESERVED"


def reserved_key(sweep: str | None) -> str | None:
    """The key reserved for this Hydra job, if its sweep reserved one; else None."""
    text = os.environ.get(RESERVED_VARIABLE)
    if not text or sweep is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("sweep") != sweep:
        return None  # another sweep's variable (e.g. a sweep started from inside a trial)
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return (data.get("keys") or {}).get(str(HydraConfig.get().job.num))


@contextlib.contextmanager
def reservations(sweep: str, keys: dict[int, str]) -> Iterator[None]:
    """While submitting: `$MITOSIS_RESERVED` maps each Hydra job number to its reserved key."""
    before = os.environ.get(RESERVED_VARIABLE)
    data = {"sweep": sweep, "keys": {str(num): key for num, key in keys.items()}}
    os.environ[RESERVED_VARIABLE] = json.dumps(data, separators=(",", ":"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RESERVED_VARIABLE, None)
        else:
            os.environ[RESERVED_VARIABLE] = before
