"""Realistic faults for synthetic feeds.

Row faults (each given to about ``rate`` of rows, one fault a row):
``bad_date`` (impossible or wrongly formatted), ``unknown_code``, ``missing_key``,
``duplicate_row`` (the exact row twice), ``trailing_spaces``, ``wrong_case``.

File faults (``spoil_files``): a renamed column, a missing column, an empty file and a
truncated last line, each in one file of a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingestion.schema import Feed

ROW_FAULTS = (
    "bad_date",
    "unknown_code",
    "missing_key",
    "duplicate_row",
    "trailing_spaces",
    "wrong_case",
)
FILE_FAULTS = ("renamed_column", "missing_column", "empty_file", "truncated_last_line")
# faults that reject the whole file: a corrected re-delivery (<name>_r2.csv) follows
REDELIVERED = ("renamed_column", "missing_column", "empty_file")
# faults the loader recovers from without losing the row's values (a duplicate is dropped,
# its first copy kept; spaces trimmed; codes upper-cased)
LOSSLESS = ("duplicate_row", "trailing_spaces", "wrong_case")
BAD_DATES = ("2007-02-30", "31/12/2007", "2007-13-01", "0000-00-00", "2007-06-31")


class Dirt:
    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.counts: dict[str, int] = dict.fromkeys(ROW_FAULTS + FILE_FAULTS, 0)

    def rows(
        self, feed: Feed, rows: list[list[str]], allowed: tuple[str, ...] = ROW_FAULTS
    ) -> list[list[str]]:
        """The rows with about ``rate`` of them given one fault each (codes, keys and dates
        are taken from the feed's declaration); ``allowed`` limits the faults used."""
        if not self.rate or not rows:
            return rows
        out: list[list[str]] = []
        hits = self.rng.random(len(rows)) < self.rate
        kinds = self.rng.integers(0, len(ROW_FAULTS), len(rows))
        date_cols = [i for i, c in enumerate(feed.columns) if c.type == "date"]
        code_cols = [i for i, c in enumerate(feed.columns) if c.codes is not None]
        key_cols = [i for i, c in enumerate(feed.columns) if c.name in feed.unique_key]
        columns = {"date": date_cols, "code": code_cols, "key": key_cols}
        for row, hit, kind in zip(rows, hits, kinds, strict=True):
            if not hit:
                out.append(row)
                continue
            fault = ROW_FAULTS[kind]
            if fault not in allowed:
                fault = allowed[int(kind) % len(allowed)]
            row = list(row)
            if self._spoil_row(row, fault, columns, out):
                self.counts[fault] += 1
            out.append(row)
        return out

    def _spoil_row(
        self, row: list[str], fault: str, columns: dict[str, list[int]], out: list[list[str]]
    ) -> bool:
        """Give ``row`` the fault in place (a duplicate goes to ``out`` first); whether
        the feed has a column the fault needs."""
        if fault == "bad_date" and columns["date"]:
            row[self._pick(columns["date"])] = str(self.rng.choice(BAD_DATES))
        elif fault == "unknown_code" and columns["code"]:
            row[self._pick(columns["code"])] = "ZZ9"
        elif fault == "missing_key" and columns["key"]:
            row[self._pick(columns["key"])] = ""
        elif fault == "duplicate_row":
            out.append(list(row))
        elif fault == "trailing_spaces":
            i = self._pick(range(len(row)))
            row[i] = row[i] + "  "
        elif fault == "wrong_case" and columns["code"]:
            i = self._pick(columns["code"])
            row[i] = row[i].lower()
        else:
            return False
        return True

    def _pick(self, options) -> int:  # type: ignore[no-untyped-def]
        options = list(options)
        return int(options[int(self.rng.integers(0, len(options)))])

    def spoil_files(self, folder: Path, rng: np.random.Generator) -> dict[str, int]:
        """Spoil one file per file fault (never the same file twice); returns the corrected
        re-deliveries written (file name -> data rows)."""
        redelivered: dict[str, int] = {}
        if not self.rate:
            return redelivered
        files = sorted(p for p in folder.glob("*/*.csv") if p.stat().st_size > 0)
        if len(files) < len(FILE_FAULTS):
            return redelivered
        chosen = rng.choice(len(files), size=len(FILE_FAULTS), replace=False)
        for fault, index in zip(FILE_FAULTS, chosen, strict=True):
            path = files[int(index)]
            text = path.read_text(encoding="utf-8")
            if fault in REDELIVERED:  # the supplier sends the file again, corrected
                again = path.with_name(f"{path.stem}_r2{path.suffix}")
                again.write_text(text, encoding="utf-8")
                redelivered[again.name] = max(0, len(text.splitlines()) - 1)
            header, _, body = text.partition("\n")
            columns = header.split(",")
            if fault == "renamed_column":
                columns[1] = columns[1] + "_NEW"
                text = ",".join(columns) + "\n" + body
            elif fault == "missing_column":
                drop = len(columns) - 1
                lines = [
                    ",".join(c for i, c in enumerate(line.split(",")) if i != drop)
                    for line in text.splitlines()
                ]
                text = "\n".join(lines) + "\n"
            elif fault == "empty_file":
                text = ""
            elif fault == "truncated_last_line":
                text = text.rstrip("\n")
                text = text[: text.rfind(",")]
            path.write_text(text, encoding="utf-8")
            self.counts[fault] += 1
        return redelivered
