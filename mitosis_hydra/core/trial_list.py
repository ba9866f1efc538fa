"""The sequence `list_trials` returns: every key up front, records read in pages.

A trials database of 100,000 trials holds ~60 MB of rows; reading and decoding
all of them takes seconds, while most reads want a few (the last 20, one
experiment's newest). So the listing query fetches only the ordered keys (an
index scan), and records are read a page at a time when first reached. Which
trials are listed is fixed when `list_trials` is called; a record is read
when first reached, so a trial still running then may show as finished.

Iterating reads every record once, in one ordered pass over the table (`scan`,
when the store gives one) instead of a query per page, and keeps none of them:
memory stays flat however many trials there are, and a second pass reads again.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, overload

from mitosis_hydra.core.records import TrialRecord

# Stays under SQLite's oldest limit of 999 bound parameters per statement.
PAGE_SIZE = 500

LoadRecords = Callable[[Sequence[str]], list[TrialRecord]]
# every record of the listing's query as stored now, oldest first, those of these keys only
ScanRecords = Callable[[set[str]], Iterator[TrialRecord]]


class TrialList(Sequence[TrialRecord]):
    """Trial records, oldest first; read from the database a page at a time."""

    def __init__(
        self, keys: Sequence[str], load: LoadRecords, scan: ScanRecords | None = None
    ) -> None:
        self._keys = list(keys)
        self._load = load
        self._scan = scan
        self._pages: dict[int, list[TrialRecord]] = {}

    @property
    def keys(self) -> list[str]:
        """The listed trials' keys, without reading their records."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> TrialRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[TrialRecord]: ...

    def __getitem__(self, index: int | slice) -> TrialRecord | list[TrialRecord]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self._keys)))]
        position = index + len(self._keys) if index < 0 else index
        if not 0 <= position < len(self._keys):
            raise IndexError(f"trial index {index} out of range for {len(self._keys)} trials")
        return self._record(position)

    def __iter__(self) -> Iterator[TrialRecord]:
        if self._scan is not None and self._keys:
            yield from self._scan(set(self._keys))
            return
        for page in range(0, -(-len(self._keys) // PAGE_SIZE)):
            yield from self._page(page)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like list

    def __repr__(self) -> str:
        return f"<TrialList of {len(self._keys)} trials>"

    def _record(self, position: int) -> TrialRecord:
        return self._page(position // PAGE_SIZE)[position % PAGE_SIZE]

    def _page(self, page: int) -> list[TrialRecord]:
        if page not in self._pages:
            keys = self._keys[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            with collector_paused():
                self._pages[page] = self._load(keys)
        return self._pages[page]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection while many containers are made that all stay alive (a page
    of records, a job's config): the collector would only rescan them (a third of
    the time of reading 100,000 records). Left as it was found afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
