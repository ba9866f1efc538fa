"""The `mitosis-hydra` console script: `cli.main` in a process of its own, collector off for reads.

A reading command over 100,000 trials allocates hundreds of thousands of dicts
and tuples that all stay alive until the process ends; the cyclic collector
would only scan them again and again (a tenth of `compare`'s time) and find
nothing to free: reading makes no cycles worth collecting before exit. So the
console script turns it off for the reading commands. `cli.main` itself leaves
the collector as it found it: tests and notebooks call it in their own process.
"""

from __future__ import annotations

import gc
import sys

READING_COMMANDS = frozenset({"list", "show", "compare", "variants", "index"})


def run() -> None:
    """The console script's entry point: exits with the command's exit code."""
    if sys.argv[1:2] and sys.argv[1] in READING_COMMANDS:
        gc.disable()
    from mitosis_hydra.read.cli import main

    sys.exit(main())
