"""Keeping database passwords out of everything mitosis_hydra prints or writes."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

MASK = "***"
# scheme://user:password@ — the password runs to the last `@` before the host. Hydra
# writes overrides with `:` escaped (`postgresql\://u\:pw@h`): the escapes are allowed.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*\\*:(?:\\*/){2}[^:/@\s'\"]*\\*:)"
    r"(?P<password>[^/\s'\"]*)(?P<at>@)"
)


def mask_url(url: str) -> str:
    """The URL with its password (if any) shown as `***`."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: mask whatever looks like a password
        return mask_text(url)
    if parsed.password is None:
        return mask_text(url)
    return parsed.render_as_string(hide_password=True)


def mask_text(text: str) -> str:
    """Every `scheme://user:password@` in a text, with the password as `***`."""
    if "@" not in text:  # a 1.5 MB config holds none: no need to try the pattern everywhere
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)


def mask_file(path: Path) -> None:
    """Rewrite a file Hydra wrote (e.g. the sweep's multirun.yaml) with passwords masked."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    masked = mask_text(text)
    if masked != text:
        path.write_text(masked, encoding="utf-8")


def mask_hydra_job_overrides() -> None:
    """Mask the overrides Hydra prints when this job fails.

    Hydra's `run_job` copies the job's overrides into its `JobReturn` before the
    task runs, and prints them ("Error executing job with overrides: …") when a
    failed job's result is read. No hook reaches that list, so it is masked in
    place, found in the caller frames of the running task.
    """
    frame = sys._getframe(1)
    while frame is not None:
        job_return = frame.f_locals.get("ret")
        overrides = getattr(job_return, "overrides", None)
        if type(job_return).__name__ == "JobReturn" and isinstance(overrides, list):
            overrides[:] = [mask_text(str(item)) for item in overrides]
            return
        frame = frame.f_back


def mask_log_records() -> None:
    """Mask passwords in every log record of this process (Hydra logs each job's overrides)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "masks_passwords", False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it when the record is emitted
            return record
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record

    masked_record.masks_passwords = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
