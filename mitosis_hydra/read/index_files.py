"""Writing the index: the page and its data folder, so that a reader never sees half of either.

The data files go into a new folder, `<page>-data/<id>/` (the id sorts by when
it was made), before the page that names it replaces the old page in one
rename; only then are older data folders removed. Killed at any point, the
page on disk is whole and names a whole folder: the old page and its folder,
or the new ones (a half-written new folder is removed by the next run). A run
that finds a newer folder than its own when it is done leaves the page to it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mitosis_hydra.read.index_rows import IndexRow

_MADE = re.compile(r"\d{8}T\d{12}-\d+-[0-9a-f]{4}")  # the name of a data folder we made
Build = Callable[[str], tuple[str, dict[str, str]]]  # data folder (from the page) -> page, files


def data_root(page: Path) -> Path:
    """The folder holding the page's data folders: `index-data/` beside `index.html`."""
    return page.with_name(f"{page.stem}-data")


def write_page(page: Path, build: Build) -> None:
    """Build the page for a new data folder; write that folder, then the page, then tidy."""
    root = data_root(page)
    made = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}-{secrets.token_hex(2)}"
    text, files = build(f"{root.name}/{made}")
    page.parent.mkdir(parents=True, exist_ok=True)
    if files:
        folder = root / made
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
    if _newer_than(root, made):  # another run wrote (or is writing) a newer index
        shutil.rmtree(root / made, ignore_errors=True)
        return
    temporary = page.with_name(f"{page.name}.{made}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, page)  # the page names a folder that is already whole
    _remove_older(page, root, made)


def _folders(root: Path) -> list[str]:
    """Our data folders in `root` (nothing else there is ever touched)."""
    try:
        return [e.name for e in os.scandir(root) if e.is_dir() and _MADE.fullmatch(e.name)]
    except FileNotFoundError:
        return []


def _newer_than(root: Path, made: str) -> bool:
    return any(name > made for name in _folders(root))


def _remove_older(page: Path, root: Path, made: str) -> None:
    for name in _folders(root):
        if name < made:
            shutil.rmtree(root / name, ignore_errors=True)
    for stale in page.parent.glob(f"{page.name}.*.tmp"):
        stamp = stale.name[len(page.name) + 1 : -len(".tmp")]
        if _MADE.fullmatch(stamp) and stamp < made:  # a page a killed run left half-written
            stale.unlink(missing_ok=True)
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()


def missing_notebooks(rows: Sequence[IndexRow], trials_folder: Path) -> set[str]:
    """Keys of the trials whose notebook file is gone.

    Each notebook is looked for (100,000 take a fifth of a second; threads only
    added work on a busy machine), unless most of a sample is gone: then one
    listing of the trials folder answers for every notebook whose trial folder is
    not in it (deleted: nothing could find its notebook), and only the others are
    looked for."""
    named = [(row.key, row.notebook) for row in rows if row.notebook is not None]
    if not named:
        return set()
    try:
        folder = os.open(trials_folder, os.O_RDONLY)
    except OSError:
        return {key for key, _notebook in named}
    try:
        sample = named[:: max(1, len(named) // _SAMPLE)]
        if 2 * len(_not_found(sample, folder)) <= len(sample):
            return set(_not_found(named, folder))
        gone, unsure = _not_listed(named, trials_folder)
        return {*gone, *_not_found(unsure, folder)}
    finally:
        os.close(folder)


_SAMPLE = 200  # notebooks looked for first, spread evenly from oldest to newest
_NOT_LISTED = frozenset({"", ".", ".."})  # first parts a listing never shows ("": absolute)


def _not_listed(
    named: list[tuple[str, str]], trials_folder: Path
) -> tuple[list[str], list[tuple[str, str]]]:
    """The keys whose notebook's first part is not in the trials folder (gone for sure),
    and the (key, notebook) pairs left to look for. A name missing from the listing is
    also looked up folded (case, Unicode form): a case-insensitive file system
    would find it, so it is looked for."""
    try:
        names = set(os.listdir(trials_folder))
    except OSError:
        return [], named
    folded: set[str] | None = None  # made when first needed: every notebook may be there
    gone, unsure = [], []
    for key, notebook in named:
        first = notebook.partition("/")[0]
        if first in names or first in _NOT_LISTED:
            unsure.append((key, notebook))
            continue
        if folded is None:
            folded = {_fold(name) for name in names}
        if _fold(first) in folded:
            unsure.append((key, notebook))
        else:
            gone.append(key)
    return gone, unsure


def _fold(name: str) -> str:
    """A name as file systems that ignore case or Unicode form compare it (or coarser)."""
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _not_found(batch: list[tuple[str, str]], folder: int) -> list[str]:
    """The keys of these notebooks that are not there (relative to `folder`; an absolute
    path ignores it). `access(F_OK)` answers as a stat would, a third quicker: it
    builds no stat result."""
    access, exists = os.access, os.F_OK
    return [key for key, notebook in batch if not access(notebook, exists, dir_fd=folder)]
