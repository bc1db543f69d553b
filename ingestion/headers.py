"""A delivered file's header against its feed's declared columns.

The reason a header is refused names only the feed's declared columns; any other field of
the first line is delivered text (a file without a header line has a data row there), so
it is told by position, never quoted.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ingestion.load_records import FileRejected

if TYPE_CHECKING:
    from ingestion.schema import Feed


HEADER_POSITIONS_SHOWN = 10  # positions of unexpected header fields a reason lists


def check_header(header: list[str], feed: Feed) -> None:
    """Refuse a header that is not the feed's columns, each once (in any order).

    The reason names the feed's declared columns only (missing or repeated ones). Any other
    field of the first line is delivered text (a file without a header line has a data row
    there: a CRN, a name, a date of birth), so it is told by position, never quoted."""
    declared = set(feed.header)
    counts = Counter(header)
    problem = f"header does not match feed {feed.name}: "
    if any("\n" in c for c in header):
        raise FileRejected(problem + "its first line opens a quote that does not close on it")
    if not declared & counts.keys():
        raise FileRejected(
            problem + f"none of the first line's {len(header)} field(s) is a column of the "
            "feed (it looks like a data row: the file has no header line?)"
        )
    missing = [c for c in feed.header if c not in counts]
    unexpected = [i for i, c in enumerate(header, start=1) if c not in declared]
    repeated = [c for c in feed.header if counts[c] > 1]
    seen: set[str] = set()
    again = []  # positions of an unexpected field named like an earlier one
    for i, c in enumerate(header, start=1):
        if c in seen and c not in declared:
            again.append(i)
        seen.add(c)
    if missing or unexpected or repeated:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected column(s) at {positions(unexpected)}")
        if repeated:
            parts.append("repeated column(s) " + ", ".join(repeated))
        if again:
            parts.append(f"{len(again)} unexpected column(s) repeated at {positions(again)}")
        raise FileRejected(problem + "; ".join(parts))


def positions(positions: list[int]) -> str:
    """``position(s) 1, 2, 4`` (at most ``HEADER_POSITIONS_SHOWN``, then how many more)."""
    shown = ", ".join(str(p) for p in positions[:HEADER_POSITIONS_SHOWN])
    more = len(positions) - HEADER_POSITIONS_SHOWN
    return f"position(s) {shown}" + (f" and {more} more" if more > 0 else "")
