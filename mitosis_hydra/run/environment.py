"""The software a trial ran on, captured so that it can be installed again."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

from mitosis_hydra.run.gitinfo import GitState

_PACKAGES: list[str] | None = None  # this process's list, once read (see remember_packages)


def remember_packages() -> None:
    """Read the installed packages once for every later trial of this process (~0.1 s each).

    A sweep's driver calls it before forking its workers: nothing is installed
    or removed while a sweep runs, and its trials share one interpreter.
    """
    global _PACKAGES
    _PACKAGES = installed_packages()


def installed_packages() -> list[str]:
    """Requirement lines that pip can install again (like `pip freeze`).

    Packages installed from a VCS or a local folder are written as direct
    references (PEP 610), not as `name==version`, which PyPI may not have.
    """
    if _PACKAGES is not None:
        return list(_PACKAGES)
    lines = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        lines[name.lower()] = _requirement(dist, name)
    return [lines[key] for key in sorted(lines)]


def _requirement(dist: metadata.Distribution, name: str) -> str:
    direct = dist.read_text("direct_url.json")
    if not direct:
        return f"{name}=={dist.version}"
    info = json.loads(direct)
    url = info.get("url", "")
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        return f"{name} @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}"
    if info.get("dir_info", {}).get("editable"):
        return f"-e {url}"
    if url.startswith("file://") and "archive_info" not in info and "dir_info" not in info:
        return f"{name}=={dist.version}"
    return f"{name} @ {url}"


def scheduler_job() -> dict[str, str] | None:
    """The batch scheduler's id of the job this trial ran in (SLURM), to find its logs and
    accounting; None outside a scheduler."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    job = {"scheduler": "slurm", "job_id": job_id}
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        job["array_job"] = f"{array}_{task}"
    return job


def capture(git: GitState) -> dict[str, Any]:
    """Python, platform, host, packages and git provenance, as JSON-ready data."""
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "host": socket.gethostname(),
        "scheduler_job": scheduler_job(),
        "packages": installed_packages(),
        "git": {
            "root": str(git.root) if git.root else None,
            "commit": git.commit,
            "branch": git.branch,
            "remote": git.remote,
            "dirty": list(git.dirty),
        },
    }
