"""Keeping a cell's printed output bounded as it arrives: its head, its tail, and a marker.

An experiment that prints 50 MB would otherwise make a 50 MB notebook, and a
driver holding every message of it. The driver keeps, per cell and stream
(stdout, stderr), the first half of `max_output` characters as they come and
a rolling window of the last half; what falls between is counted and dropped
at once. When the cell ends, a marker saying how much was cut, and where the
whole stream is (the trial's log file, which the kernel tees every stream
into), goes between head and tail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DEFAULT_MAX_OUTPUT = 1_000_000  # characters per cell and stream (`mitosis.max_output`)


@dataclass
class _Stream:
    kept: int = 0  # characters of the head, already in the cell's outputs
    tail: deque[str] = field(default_factory=deque)
    tail_size: int = 0
    cut: int = 0


class StreamLimiter:
    """Per cell: which text of each stream goes to the notebook now, and what comes at the end."""

    def __init__(self, max_output: int, log_file: str | None) -> None:
        self.max_output = max_output
        self.log_file = log_file
        self._head = max_output - max_output // 2
        self._tail = max_output // 2
        self._streams: dict[str, _Stream] = {}

    def take(self, name: str, text: str) -> str:
        """The part of `text` to show now (may be empty); the rest is held or dropped."""
        stream = self._streams.setdefault(name, _Stream())
        room = self._head - stream.kept
        if room >= len(text) and not stream.tail:
            stream.kept += len(text)
            return text
        shown, rest = (text[:room], text[room:]) if room > 0 else ("", text)
        stream.kept += len(shown)
        self._hold(stream, rest)
        return shown

    def _hold(self, stream: _Stream, text: str) -> None:
        if len(text) >= self._tail:  # this piece alone fills the window
            stream.cut += stream.tail_size + len(text) - self._tail
            stream.tail.clear()
            text = text[len(text) - self._tail :] if self._tail else ""
            stream.tail_size = 0
        if text:
            stream.tail.append(text)
            stream.tail_size += len(text)
        while stream.tail_size > self._tail:
            first = stream.tail[0]
            excess = stream.tail_size - self._tail
            if len(first) <= excess:
                stream.tail.popleft()
                stream.tail_size -= len(first)
                stream.cut += len(first)
            else:
                stream.tail[0] = first[excess:]
                stream.tail_size -= excess
                stream.cut += excess

    def finish(self) -> list[tuple[str, str]]:
        """(stream name, text) to append when the cell ends: marker and tail, per stream."""
        pieces = []
        for name, stream in self._streams.items():
            held = "".join(stream.tail)
            if stream.cut:
                held = self.marker(name, stream.cut) + held
            if held:
                pieces.append((name, held))
        self._streams.clear()
        return pieces

    def marker(self, name: str, cut: int) -> str:
        where = f"the trial's log file, {self.log_file}" if self.log_file else "the trial's log"
        return (
            f"\n[… {cut:,} characters of {name} cut here by mitosis_hydra "
            f"(mitosis.max_output={self.max_output:,} per cell); the whole stream is in "
            f"{where} …]\n"
        )
