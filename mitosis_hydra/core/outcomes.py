"""How a trial, a sweep or a command ended, as data: statuses, their counts, exit codes.

The single-trial app, the sweep launcher and the CLI all end a process; the
codes they exit with are decided here, from a status or an error, so that a
shell script sees the same number for the same outcome wherever it came from:
0 finished, 1 failed (or lost), 2 refused before anything ran, 130 interrupted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from mitosis_hydra.core.records import TrialStatus

EXIT_FINISHED = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130

# A sweep's job may end without a trial of its own: these show in its summary beside the
# TrialStatus values (never stored: the database only holds TrialStatus).
NOT_STARTED = "not started"  # the sweep stopped before the job began
DONE_BEFORE = "done before"  # a resumed sweep's job whose finished trial already existed
COMPLETE = (TrialStatus.FINISHED, DONE_BEFORE)  # the jobs that return a main metric
# a job submitted and not waited for, or met in flight by a resumed sweep: not a failure
PENDING = (TrialStatus.QUEUED, TrialStatus.RUNNING)


def exit_code(outcome: TrialStatus | str | BaseException | None) -> int:
    """The exit code for how something ended: a status, an error, or None (it finished).

    Errors of mitosis_hydra carry their own `exit_code` (core/errors.py: 2 when
    nothing ran, a trial's failure by its status); any other exception is a
    failure (1); Ctrl-C is 130.
    """
    if outcome is None:
        return EXIT_FINISHED
    if isinstance(outcome, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(outcome, BaseException):
        return getattr(outcome, "exit_code", EXIT_FAILED)
    if outcome in COMPLETE or outcome in PENDING:
        return EXIT_FINISHED
    return EXIT_INTERRUPTED if outcome == TrialStatus.INTERRUPTED else EXIT_FAILED


def status_of_exit(code: int) -> TrialStatus:
    """What a trial's exit code says of its status (the inverse of `exit_code`, refusals aside)."""
    if code == EXIT_FINISHED:
        return TrialStatus.FINISHED
    return TrialStatus.INTERRUPTED if code == EXIT_INTERRUPTED else TrialStatus.FAILED


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many of each status, in order of first appearance (`3 finished, 1 failed`)."""
    return dict(Counter(str(status) for status in statuses))


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


# One colour per status wherever a status is shown: a rich style (sweep summary,
# `show`), the same as an ANSI code (`list`, written without rich) and for HTML (index page).
STATUS_STYLE = {
    TrialStatus.FINISHED: "green",
    TrialStatus.FAILED: "bold red",
    TrialStatus.QUEUED: "blue",
    TrialStatus.RUNNING: "yellow",
    TrialStatus.INTERRUPTED: "magenta",
    TrialStatus.LOST: "bold blue",
    NOT_STARTED: "dim",
    DONE_BEFORE: "cyan",
}
STATUS_ANSI = {
    TrialStatus.FINISHED: "32",
    TrialStatus.FAILED: "1;31",
    TrialStatus.QUEUED: "34",
    TrialStatus.RUNNING: "33",
    TrialStatus.INTERRUPTED: "35",
    TrialStatus.LOST: "1;34",
    NOT_STARTED: "2",
    DONE_BEFORE: "36",
}
STATUS_HTML = {  # background colours of the index page's status badges
    TrialStatus.FINISHED: "#2e7d32",
    TrialStatus.FAILED: "#c62828",
    TrialStatus.QUEUED: "#1565c0",
    TrialStatus.RUNNING: "#f9a825",
    TrialStatus.INTERRUPTED: "#6a1b9a",
    TrialStatus.LOST: "#546e7a",
}


def format_metric(value: Any) -> str:
    """Numbers to 6 significant digits, None as empty, the rest as text (tables, summaries)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def last_line(error: str | None) -> str | None:
    """The line that names the exception (the traceback above it holds paths that move)."""
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else None
