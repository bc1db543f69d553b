"""Which records are, beyond doubt, in their declared formats: a numpy screen over a block.

A record whose every typed field passes the screen is COPYed straight into the typed
staging columns (PostgreSQL's own input functions, the speed of a plain COPY). Every other
record - a space, a quote, a sign, a lenient form PostgreSQL's casts would also accept
(``03/02/2008``, ``0x10``, ``1_000``, ``yes``), a field near its limit - takes the exact way:
COPYed as text, checked and cast in SQL (``staging.py``), which names each failing value.

The screen is a *sufficient* condition for the strict formats of ``schema.STRICT_FORMATS``,
never a replacement: it may send a good record the exact way, it never lets a value through
that the SQL check would refuse (``tests/unit/test_screen.py`` compares the two on every
kind of value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.schema import Column

DIGITS = {"int": 18, "score": 4}  # plain digits that always fit bigint / smallint
NUMERIC_DIGITS = 30  # a plain decimal this long always fits PostgreSQL's numeric
MINUS, DOT, ZERO = 45, 46, 48
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass(frozen=True)
class _Check:
    """One kind of check over the fields (positions in the file's header) it applies to."""

    kind: str  # digits, numeric, date, bool, text
    fields: np.ndarray
    limit: int = 0  # digits / numeric / text: most bytes
    values: tuple[int, int] = (0, 0)  # bool: the two one-byte texts


class FormatScreen:
    """The screen for one file: its columns in the order of the file's header."""

    def __init__(self, columns: tuple[Column, ...], header: list[str]) -> None:
        by_name = {c.name: c for c in columns}
        self.width = len(header)
        groups: dict[tuple, list[int]] = {}
        self.usable = True  # False: some column has no screen (every record goes exact)
        for j, name in enumerate(header):
            key = _kind(by_name[name])
            if key is None:
                self.usable = False
            else:
                groups.setdefault(key, []).append(j)
        self.checks = [
            _Check(kind, np.array(fields), limit, values)
            for (kind, limit, values), fields in groups.items()
        ]

    def certain(
        self, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, separators: np.ndarray
    ) -> np.ndarray:
        """For one-line records of exactly ``width`` fields (``arr[starts[i]:ends[i]]``;
        ``separators``: the block's commas outside quotes), whether every field is certainly
        in its declared format."""
        n = len(starts)
        if not self.usable or not n:
            return np.zeros(n, dtype=bool)
        begin, end = _fields(starts, ends, separators, self.width)
        classes = _Classes(arr)
        ok = np.ones(n, dtype=bool)
        for check in self.checks:  # one pass per kind, over all its fields at once
            s, e = begin[:, check.fields], end[:, check.fields]
            size = e - s
            if check.kind == "text":
                ok &= (size <= check.limit).all(axis=1)
            else:
                ok &= ((size == 0) | _in_format(check, classes, s, e, size)).all(axis=1)
        return ok

    def exact_records(
        self,
        arr: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        spans: np.ndarray,
        malformed: set[int],
        separators: np.ndarray,
    ) -> set[int]:
        """Records of a block (not malformed, not blank) that must go the exact way: those
        the screen cannot pass, and those over several lines (``spans``: their quoted
        newlines)."""
        wellformed = ends != starts
        if malformed:
            wellformed[list(malformed)] = False
        one_line = np.flatnonzero(wellformed & (spans == 1))
        certain = self.certain(arr, starts[one_line], ends[one_line], separators)
        several = np.flatnonzero(wellformed & (spans > 1))
        return set(one_line[~certain].tolist()) | set(several.tolist())


def _kind(col: Column) -> tuple[str, int, tuple[int, int]] | None:
    """(kind, limit, values) of a column's check; None: the screen cannot check it."""
    if col.type in DIGITS:
        return ("digits", DIGITS[col.type], (0, 0))
    if col.type == "numeric":
        return ("numeric", NUMERIC_DIGITS, (0, 0))
    if col.type == "date":
        return ("date", 0, (0, 0))
    if col.type == "bool":
        true, false = (v.encode() for v in col.bool_values)
        if len(true) != 1 or len(false) != 1:
            return None
        return ("bool", 0, (true[0], false[0]))
    return ("text", col.text_limit or 0, (0, 0))


def _fields(
    starts: np.ndarray, ends: np.ndarray, separators: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each record's field boundaries: (begin, end) arrays of shape (records, width)."""
    if width == 1:
        return starts[:, None], ends[:, None]
    first = np.searchsorted(separators, starts).astype(np.int32)
    seps = separators.astype(np.int32)[first[:, None] + np.arange(width - 1, dtype=np.int32)]
    starts, ends = starts.astype(np.int32), ends.astype(np.int32)
    begin = np.concatenate([starts[:, None], seps + 1], axis=1)
    end = np.concatenate([seps, ends[:, None]], axis=1)
    return begin, end


class _Classes:
    """Byte classes of a block, as running counts (a field's count is a difference).

    Counts are uint16 and wrap: a difference is exact for a field under 65,536 bytes, and
    every counted field is also checked to be at most a few dozen bytes long."""

    def __init__(self, arr: np.ndarray) -> None:
        self.arr = np.concatenate((arr, np.zeros(16, dtype=np.uint8)))  # reads past a field
        self.digit = (self.arr - ZERO) < 10  # uint8 wraps below '0'
        self.not_digit = np.concatenate(([0], np.cumsum(~self.digit, dtype=np.uint16)))
        self._not_number: np.ndarray | None = None

    def not_number(self) -> np.ndarray:
        """Running count of bytes that are neither digits nor a decimal point."""
        if self._not_number is None:
            other = ~(self.digit | (self.arr == DOT))
            self._not_number = np.concatenate(([0], np.cumsum(other, dtype=np.uint16)))
        return self._not_number

    def count(self, running: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        return (running[e] - running[s]).astype(np.int32)

    def at(self, pos: np.ndarray) -> np.ndarray:
        return self.arr[pos]

    def is_digit(self, pos: np.ndarray) -> np.ndarray:
        return self.digit[pos]

    def number(self, pos: np.ndarray, digits: int) -> np.ndarray:
        value = np.zeros(pos.shape, dtype=np.int32)
        for k in range(digits):
            value = value * 10 + self.arr[pos + k] - ZERO
        return value


def _in_format(
    check: _Check, c: _Classes, s: np.ndarray, e: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """A non-empty field in its format (empty fields are null, decided by the caller)."""
    others = c.count(c.not_digit, s, e)
    if check.kind == "digits":  # ^-?[0-9]{1,limit}$
        ok = (others == 0) & (size <= check.limit)
        signed = ~ok & (others == 1)  # few: a minus sign is checked only where it may be
        if signed.any():
            ok[signed] = (c.at(s[signed]) == MINUS) & (size[signed] >= 2)
            ok[signed] &= size[signed] <= check.limit + 1
        return ok
    if check.kind == "bool":
        first = c.at(s)
        return (size == 1) & ((first == check.values[0]) | (first == check.values[1]))
    if check.kind == "numeric":  # ^-?[0-9]+(\.[0-9]+)?$
        minus = (c.at(s) == MINUS).astype(np.int32)
        not_number = c.count(c.not_number(), s, e)
        dots = others - not_number
        return (
            (not_number == minus)
            & (dots <= 1)
            & c.is_digit(s + minus)
            & c.is_digit(e - 1)
            & (size <= check.limit)
        )
    return _real_dates(c, s, others, size)


def _real_dates(c: _Classes, s: np.ndarray, others: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` of a real day (year 1 or later)."""
    shape = (size == 10) & (others == 2) & (c.at(s + 4) == MINUS) & (c.at(s + 7) == MINUS)
    year, month, day = c.number(s, 4), c.number(s + 5, 2), c.number(s + 8, 2)
    month_ok = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _MONTH_DAYS[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    return shape & (year >= 1) & month_ok & (day >= 1) & (day <= days)
