"""Where records start and end in a block of delivered bytes: quotes, line ends, and how
many physical lines a record spans (``reading`` streams the file block by block over it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingestion.load_records import FileRejected

QUOTE, COMMA, LF, CR, NUL = 34, 44, 10, 13, 0

# physical lines one record may span: no feed declares a multi-line field, and text fields
# hold at most 200 characters; a record longer than this is a stray or missing quote
MAX_RECORD_LINES = 20


class RecordRunsOn(FileRejected):
    """A record spans more than ``MAX_RECORD_LINES`` lines: the file cannot be split into
    records (its rows are still counted, as physical lines)."""


@dataclass
class BlockScan:
    consumed: int
    lines: int
    parts: list[bytes]
    placeholders: list[int]
    fix_lines: list[int] | None
    exact: list[bytes] = field(default_factory=list)
    exact_lines: list[int] = field(default_factory=list)


def first_terminator(data: bytes) -> int:
    """Offset of the first newline outside quotes (-1: none yet)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    active, _ = quote_state(arr)
    newlines = np.flatnonzero(arr == LF)
    ends = newlines[np.searchsorted(active, newlines) % 2 == 0]
    return int(ends[0]) if len(ends) else -1


def quote_state(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(active quotes, stray quotes): the positions of quotes that open or close a quoted
    field, and of quotes that cannot (inside an unquoted field) and are taken literally.

    An opening quote must follow a comma, a newline, the block's start or a closing quote
    (``""`` inside a quoted field). Taking a stray quote literally changes the parity of
    those after it: set-based up to the first stray quote, then one pass over the quotes
    that follow it (linear: re-checking every quote per stray quote took 16 s for a
    120 KB field of ``a"a"a"...``)."""
    quotes = np.flatnonzero(arr == QUOTE)
    if not len(quotes):
        return quotes, quotes
    prev = np.where(quotes > 0, arr[np.maximum(quotes - 1, 0)], LF)
    ok_prev = (prev == COMMA) | (prev == LF) | (prev == QUOTE)
    bad = np.flatnonzero(~ok_prev[0::2])
    if not len(bad):  # most blocks: no stray quote
        return quotes, quotes[:0]
    first = int(bad[0]) * 2  # every quote before it pairs as parsed
    stray = np.zeros(len(quotes), dtype=bool)
    opening = True
    for i, ok in enumerate(ok_prev[first:].tolist(), start=first):
        if opening and not ok:
            stray[i] = True
        else:
            opening = not opening
    return quotes[~stray], quotes[stray]


@dataclass
class Layout:
    """Where a block's records are: numpy arrays over its bytes, one entry per record."""

    data: bytes
    arr: np.ndarray
    active: np.ndarray  # positions of quotes that open or close a quoted field
    stray: np.ndarray  # positions of quotes inside unquoted fields
    starts: np.ndarray
    ends: np.ndarray  # each record's terminating newline (outside quotes)
    spans: np.ndarray  # physical lines per record (its terminator and quoted newlines)
    lines: np.ndarray  # each record's first line in the file
    unterminated: int | None  # offset of a final record whose quote never closes

    @property
    def n(self) -> int:
        return len(self.ends)

    @property
    def normal_end(self) -> int:
        return int(self.ends[-1]) + 1 if self.n else 0

    @property
    def empty(self) -> np.ndarray:
        return self.ends == self.starts


def record_layout(data: bytes, first_line: int, final: bool) -> Layout | None:
    """The records of ``data`` (which starts at a record boundary); ``None`` if it holds no
    whole record and more bytes may follow."""
    arr = np.frombuffer(data, dtype=np.uint8)
    active, stray = quote_state(arr)
    newlines = np.flatnonzero(arr == LF)
    ends = newlines[np.searchsorted(active, newlines) % 2 == 0]
    unterminated = None
    if final and len(active) % 2:
        # a quote opened and never closed: the rest of the file is one malformed record
        unterminated = int(ends[-1]) + 1 if len(ends) else 0
    if not len(ends) and unterminated is None:
        return None
    starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
    spans = np.diff(np.searchsorted(newlines, ends, side="right"), prepend=0)
    lines = first_line + (np.concatenate(([0], np.cumsum(spans)[:-1])) if len(ends) else spans)
    check_record_lengths(data, arr, newlines, ends, spans, lines, first_line)
    return Layout(data, arr, active, stray, starts, ends, spans, lines, unterminated)


def check_record_lengths(
    data: bytes,
    arr: np.ndarray,
    newlines: np.ndarray,
    ends: np.ndarray,
    spans: np.ndarray,
    lines: np.ndarray,
    first_line: int,
) -> None:
    """Refuse a record (or the open one at the block's end) that spans more than
    ``MAX_RECORD_LINES`` physical lines: newlines inside quotes, or carriage returns left in
    an LF or CRLF file (line ends that changed after the header)."""
    crs = np.flatnonzero(arr == CR) if b"\r" in data else np.zeros(0, dtype=np.int64)
    n = len(ends)
    cr_counts = np.bincount(np.searchsorted(ends, crs), minlength=n + 1)
    tail_newlines = len(newlines) - int(
        np.searchsorted(newlines, ends[-1], side="right") if n else 0
    )
    span_all = np.append(spans, tail_newlines + 1) + cr_counts
    long = np.flatnonzero(span_all > MAX_RECORD_LINES)
    if not len(long):
        return
    i = int(long[0])
    line = int(lines[i]) if i < n else first_line + int(spans.sum())
    if cr_counts[i] >= MAX_RECORD_LINES // 2:
        raise RecordRunsOn(
            f"line endings change after the header: from line {line} on, lines end in a"
            " carriage return only (the file cannot be split into records)"
        )
    raise RecordRunsOn(
        f"a quoted field on line {line} does not close within {MAX_RECORD_LINES} lines"
        " (a stray or missing quote; no field of the feed spans lines): the file cannot be"
        " split into records"
    )
