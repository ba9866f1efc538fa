"""Keeping database passwords out of everything mitosis_hydra prints or writes."""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@ — the password runs to the last `@` before the host
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)(?P<password>[^/\s'\"]*)(?P<at>@)"
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
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
