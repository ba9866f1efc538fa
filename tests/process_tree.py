"""The processes below a pid, read from /proc: what a test or benchmark checks is gone.

A driver's workers, their kernel zygotes, kernels and the export service must
all end with it (SIGTERM, SIGINT, a finished sweep); these list them while they
run and tell which are still alive after. Used by tests/test_sweeps.py and by
benchmarks/big_variant.py and long_sweep.py.
"""

from __future__ import annotations

import os


def descendants(pid: int) -> set[int]:
    """Every process below `pid` now, at any depth (one read of each /proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # it exited while /proc was listed
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
