"""Errors a user can act on.

Each error prints as a short paragraph: what went wrong (first line), where
(indented lines), and what to do (last line). They carry their fields so they
survive pickling into and out of worker processes.
"""

from __future__ import annotations


class MitosisError(Exception):
    """Base of every error mitosis_hydra raises on purpose."""

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


class TrialFailedError(TrialNotFinishedError):
    """The experiment raised or returned something that is not a result."""


class TrialInterruptedError(TrialNotFinishedError):
    """The trial was stopped by Ctrl-C, SIGTERM or the death of its kernel."""


class VariantNotFoundError(MitosisError):
    """No variant is locked under a given group and name."""


class VariantInUseError(MitosisError):
    """A variant name still has trials recorded with it, so releasing it needs --force."""


class ReproductionError(MitosisError):
    """A recorded trial cannot be re-run (repository gone, commit missing, unknown command)."""


class TrialsFolderError(MitosisError):
    """The trials folder cannot be used: it holds the user's files, or cannot be created."""


class UncommittedConfigError(DirtyTreeError):
    """A config file the trial read is not exactly as committed (untracked, ignored, changed)."""


class TrialFolderExistsError(StoreError):
    """The folder a new trial would get already exists (its database was replaced or lost)."""
