"""How the user started this app, for hints that tell them what to type next."""

from __future__ import annotations

import json
import os
import sys

USER_ARGV_VARIABLE = "MITOSIS_HYDRA_ARGV"


def user_argv() -> tuple[str, ...]:
    """The command the user typed, also inside a launcher's worker process."""
    recorded = os.environ.get(USER_ARGV_VARIABLE)
    if recorded:
        return tuple(json.loads(recorded))
    return tuple(getattr(sys, "orig_argv", sys.argv))


def user_command() -> str:
    """`python -m <their package>` (or `python <their script>`), without the overrides."""
    argv = user_argv()
    for index, arg in enumerate(argv[1:-1], start=1):
        if arg == "-m":
            return f"python -m {argv[index + 1].removesuffix('.__main__')}"
    scripts = [arg for arg in argv[1:] if arg.endswith(".py")]
    return f"python {scripts[0]}" if scripts else "python -m <your package>"
