"""Errors a user can act on.

Each error prints as a short paragraph: what went wrong (first line), where
(indented lines), and what to do (last line). They carry their fields so they
survive pickling into and out of worker processes.
"""

from __future__ import annotations

from typing import Any

from mitosis_hydra.core import outcomes


class MitosisError(Exception):
    """Base of every error mitosis_hydra raises on purpose.

    `exit_code` is how a process ends on it: by default 2, refused before
    anything ran; an error that ends a command which did run says otherwise.
    """

    exit_code: int = outcomes.EXIT_REFUSED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self):  # keep the message and the fields when crossing process boundaries
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[MitosisError], message: str, fields: dict | None = None) -> MitosisError:
    error = cls.__new__(cls)
    MitosisError.__init__(error, message)
    error.__dict__.update(fields or {})
    return error


class ConfigError(MitosisError):
    """The composed config cannot describe a trial (missing exp, bad run target, …)."""


class DirtyTreeError(MitosisError):
    """The git working tree has changes, so the trial could not name its code."""


class NotARepositoryError(MitosisError):
    """A recorded trial was asked for outside a git working tree."""


class VariantConflictError(MitosisError):
    """A variant name is already locked to a different value."""


class TrialNotFoundError(MitosisError):
    """No trial (or several) match a key."""


class StoreError(MitosisError):
    """The trials database cannot be opened or is inconsistent."""


class TrialNotFinishedError(MitosisError):
    """A recorded trial ended without a result; the error names it, as data.

    A launcher or sweeper reads `key`, `name`, `status` and `notebook` (they
    survive pickling out of a worker process) instead of parsing the message.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        name: str | None = None,
        status: str = "failed",
        notebook: str | None = None,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.name = name
        self.status = status
        self.notebook = notebook

    @property
    def exit_code(self) -> int:  # type: ignore[override]  # decided by how the trial ended
        return outcomes.exit_code(self.status)


class TrialFailedError(TrialNotFinishedError):
    """The experiment raised or returned something that is not a result."""


class TrialInterruptedError(TrialNotFinishedError):
    """The trial was stopped by Ctrl-C, SIGTERM or the death of its kernel."""


class VariantNotFoundError(MitosisError):
    """No variant is locked under a given group and name."""


class VariantInUseError(MitosisError):
    """A variant name still has trials recorded with it, so releasing it needs --force."""

    exit_code = outcomes.EXIT_FAILED


class ReproductionError(MitosisError):
    """A recorded trial cannot be re-run (repository gone, commit missing, unknown command)."""

    exit_code = outcomes.EXIT_FAILED


class TrialsFolderError(MitosisError):
    """The trials folder cannot be used: it holds the user's files, or cannot be created."""


class UncommittedConfigError(DirtyTreeError):
    """A config file the trial read is not exactly as committed (untracked, ignored, changed)."""


class TrialFolderExistsError(StoreError):
    """The folder a new trial would get already exists (its database was replaced or lost)."""


class SweepRefusedError(MitosisError):
    """At least one job of a sweep cannot run as a recorded trial; none was started."""


class ReservationError(MitosisError):
    """A job found its reserved (`queued`) trial taken, gone, or reserved for another trial."""


class UsageError(MitosisError):
    """The command line asks for something that cannot be done as asked."""


class RebuildRefusedError(MitosisError):
    """The database to rebuild still holds trials, or cannot be replaced."""


class Interrupted(BaseException):
    """SIGTERM, turned into an exception like KeyboardInterrupt is for SIGINT."""

    exit_code = outcomes.EXIT_INTERRUPTED


# Errors Hydra prints as their message only, without a traceback: they subclass
# Hydra's CompactHydraException. Importing hydra costs ~0.4 s (the read-side CLI
# never does), so these classes are built the first time they are asked for.
_HYDRA_COMPACT: dict[str, tuple[type[MitosisError], str]] = {
    "SweepIncompleteError": (
        TrialNotFinishedError,
        "Some trials of the sweep failed or were interrupted (the others are recorded).",
    ),
    "JobRefusedError": (
        MitosisError,
        "A job of another launcher's sweep was refused: Hydra prints the message, no traceback.",
    ),
    "JobInterruptedError": (
        TrialInterruptedError,
        "A batch job (SLURM) was cancelled or killed before its trial could report: Hydra "
        "prints the message, no traceback.",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _HYDRA_COMPACT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from hydra.errors import CompactHydraException

    base, doc = _HYDRA_COMPACT[name]
    namespace = {"__doc__": doc, "__module__": __name__, "__qualname__": name}
    cls = type(name, (CompactHydraException, base), namespace)
    globals()[name] = cls  # pickling finds it by name, as any class of this module
    return cls
