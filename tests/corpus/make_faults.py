"""A corpus of malformed and hostile deliveries, one fault per case, with what must happen.

Each case is one delivered path (a CSV or workbook, a directory, a link) written into a
landing folder, and the outcome it must have: the file's status and reason, and for each
quarantined row its line, field and reason. Rows are built from the feed declarations
(valid codes, in-range values), so a case holds exactly the fault it is named after.
Every file's period is distinct per feed (nothing supersedes anything) and its key values
are distinct per case (nothing is a duplicate of another case).

    python -m tests.corpus.make_faults OUT   # write the corpus into OUT/<system>/...

``MARKER`` is planted in bad rows: it may appear in ``audit.quarantine`` only, never in a
log line, a reason or an exception message.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "QZXMARKER7731"  # a delivered value that must never leave the quarantine table
READ_BYTES = 1 << 20  # the reader's block size: boundary cases are placed on it


@dataclass
class Case:
    name: str
    path: str  # relative to the landing folder: <system>/<file name>
    write: Callable[[Path], None]
    status: str  # loaded | rejected | duplicate
    reason: str | None = None  # a substring of the file's reason (None: no reason)
    # quarantined rows: (line, field, substring of the reason)
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)
    countable: bool = True  # rows_in is a record count (else null)
    loaded: int | None = None  # rows expected in raw, when the case pins it


# -- rows ---------------------------------------------------------------------------------
def csv_bytes(header: list[str], rows: list[list[str]], newline: str = "\n") -> bytes:
    def cell(v: str) -> str:
        return f'"{v.replace(chr(34), chr(34) * 2)}"' if any(c in v for c in ',"\r\n') else v

    lines = [",".join(header), *(",".join(cell(v) for v in r) for r in rows)]
    return (newline.join(lines) + newline).encode()


EVENTS_HEADER = [
    "EVENT_ID",
    "OFFENDER_ID",
    "EVENT_NUMBER",
    "OFFENCE_CODE",
    "OFFENCE_DATE",
    "CONVICTION_DATE",
    "COURT_CODE",
    "SOFT_DELETED",
    "ROW_VERSION",
]
OFFENDERS_HEADER = [
    "OFFENDER_ID",
    "CRN",
    "PNC_NUMBER",
    "FIRST_NAME",
    "SURNAME",
    "DATE_OF_BIRTH",
    "GENDER",
    "ETHNICITY",
    "POSTCODE",
    "WARD_CODE",
    "LA_CODE",
    "FIRST_SANCTION_DATE",
    "PREVIOUS_SANCTIONS",
    "SOFT_DELETED",
    "ROW_VERSION",
]
DISPOSALS_HEADER = [
    "DISPOSAL_ID",
    "EVENT_ID",
    "OFFENDER_ID",
    "DISPOSAL_TYPE",
    "START_DATE",
    "LENGTH_MONTHS",
    "TERMINATION_DATE",
    "TERMINATION_REASON",
    "SOFT_DELETED",
    "ROW_VERSION",
]
ACTIVITY_HEADER = ["PERIOD", "SERVICE_CODE", "LA_CODE", "MEASURE", "VALUE"]
OUTCOMES_HEADER = ["CLIENT_RECORD_ID", "OUTCOME_DOMAIN", "NEED_IDENTIFIED", "OUTCOME_ACHIEVED"]
LEDGER_HEADER = [
    "PERIOD",
    "COST_CENTRE",
    "SERVICE_CODE",
    "LA_CODE",
    "ACCOUNT",
    "BUDGET_GBP",
    "ACTUAL_GBP",
]


def event(i: int) -> list[str]:
    return [str(i), str(i), "1", "VIOL", "2007-01-02", "2007-03-04", "MCBOL", "0", "1"]


def offender(i: int, first: str = "Mary", surname: str = "Smith") -> list[str]:
    crn = f"A{i % 1_000_000:06d}"
    return [
        str(i),
        crn,
        "",
        first,
        surname,
        "1970-01-01",
        "M",
        "W1",
        "M1 1AA",
        "00BLGA",
        "E08000001",
        "1990-01-01",
        "1",
        "0",
        "1",
    ]


def disposal(i: int, version: int = 1, end: str = "", why: str = "") -> list[str]:
    return [str(i), str(i), str(i), "CO", "2007-01-02", "12", end, why, "0", str(version)]


MEASURES = ("SESSIONS", "ATTENDANCES", "COMPLETIONS", "UPW_HOURS", "SUPERVISION_MONTHS")


def activity(i: int, period: str, value: str = "10") -> list[str]:
    # the key is (period, service, LA, measure): vary the LA and the measure
    la = f"E0800000{1 + i % 9}"
    return [period, "UPW", la, MEASURES[(i // 9) % len(MEASURES)], value]


def outcome(i: int, need: str = "1", achieved: str = "0") -> list[str]:
    return [f"SP{i:07d}", "ECONOMIC_WELLBEING", need, achieved]


def ledger(i: int, month: str) -> list[object]:
    return [month, f"CC-{i % 10000:04d}", "UPW", "E08000001", "STAFF", 1000.5, 990.25]


# -- periods: distinct per feed, inside the window (coverage 2004-04..2009-03 +/- 2 years)
class Periods:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def month(self, feed: str) -> str:
        n = self.next.get(feed, 0)
        self.next[feed] = n + 1
        index = 2004 * 12 + 3 + n  # from 2004-04
        return f"{index // 12:04d}-{index % 12 + 1:02d}"

    def year(self) -> str:
        n = self.next.get("finance_ledger", 0)
        self.next["finance_ledger"] = n + 1
        y = 2002 + n
        return f"{y}-{(y + 1) % 100:02d}"


def _bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return write


def _workbook(build: Callable[[object], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)
        build(book)
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(path)

    return write


def _ledger_sheet(book, month: str, base: int, n: int = 5, notes_first: bool = False):  # type: ignore[no-untyped-def]
    if notes_first:
        notes = book.create_sheet("Notes")
        notes.append(["These figures are provisional."])
    sheet = book.create_sheet("Ledger")
    sheet.append(LEDGER_HEADER)
    for i in range(n):
        sheet.append(ledger(base + i, month))
    return sheet


def _directory(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "inner.csv").write_text("EVENT_ID\n1\n")


class _Corpus:
    """The cases being built, the periods handed out and the key values used so far."""

    def __init__(self) -> None:
        self.p = Periods()
        self.out: list[Case] = []
        self.ids = iter(range(1000, 10**9, 1000))  # key values distinct per case

    def add_events(self, name: str, data: bytes, status: str = "loaded", **kw: object) -> None:
        path = f"ndelius/ndelius_events_{self.p.month('ndelius_events')}.csv"
        self.out.append(Case(name, path, _bytes(data), status, **kw))  # type: ignore[arg-type]

    def rows(self, n: int = 5) -> list[list[str]]:
        base = next(self.ids)
        return [event(base + i) for i in range(n)]

    @staticmethod
    def lines(rs: list[list[str]], newline: str = "\n") -> list[str]:
        return [",".join(EVENTS_HEADER), *(",".join(r) for r in rs)]

    @staticmethod
    def join(ls: list[str], newline: str = "\n", final: bool = True) -> bytes:
        return (newline.join(ls) + (newline if final else "")).encode("utf-8")


def _line_endings(c: _Corpus) -> None:
    """Line endings, BOM, final newline."""
    add_events, rows, lines, join = c.add_events, c.rows, c.lines, c.join
    add_events("lf_clean", join(lines(rows())), loaded=5)
    add_events("cr_only_line_endings", join(lines(rows()), "\r"), loaded=5)
    add_events("crlf_clean", join(lines(rows()), "\r\n"), loaded=5)
    ls = lines(rows())
    ls[2] = ",".join(ls[2].split(",")[:4])
    add_events(
        "crlf_one_truncated_row",
        join(ls, "\r\n"),
        quarantined=[(3, "*", "expected 9 fields, found 4")],
        loaded=4,
    )
    add_events("crlf_trailing_blank_line", join(lines(rows()), "\r\n") + b"\r\n", loaded=5)
    add_events("crlf_no_final_newline", join(lines(rows()), "\r\n", final=False), loaded=5)
    add_events("lf_no_final_newline", join(lines(rows()), final=False), loaded=5)
    add_events("cr_no_final_newline", join(lines(rows()), "\r", final=False), loaded=5)
    add_events("utf8_bom", b"\xef\xbb\xbf" + join(lines(rows())), loaded=5)
    add_events("utf8_bom_crlf", b"\xef\xbb\xbf" + join(lines(rows()), "\r\n"), loaded=5)
    ls = lines(rows())
    ls[2] = ls[2].replace("MCBOL", "MC\rBOL")
    add_events(
        "bare_carriage_return_in_lf_file",
        join(ls),
        quarantined=[(3, "*", "carriage return outside quotes")],
        loaded=4,
    )
    ls = lines(rows())
    add_events(
        "blank_lines_between_records",
        join([ls[0], ls[1], "", ls[2], "", "", ls[3], ls[4], ls[5]]),
        loaded=5,
    )
    ls = lines(rows())
    ls.insert(3, "   ")
    add_events(
        "whitespace_only_line",
        join(ls),
        quarantined=[(4, "*", "expected 9 fields, found 1")],
        loaded=5,
    )


def _quoting(c: _Corpus) -> None:
    """Quoting and quoted fields."""
    add_events, rows, lines, join = c.add_events, c.rows, c.lines, c.join
    ls = lines(rows())
    ls[2] = ls[2].replace("MCBOL", f'O"B{MARKER}')
    add_events(
        "stray_quote_in_unquoted_field",
        join(ls),
        quarantined=[(3, "*", "stray")],
        loaded=4,
    )
    ls = lines(rows(300))
    ls[2] = ls[2].replace("MCBOL", 'O"Brien')
    ls[200] = ls[200].replace("MCBOL", "D'Arcy\"s")
    add_events(
        "two_stray_quotes_far_apart_swallow_nothing",
        join(ls),
        quarantined=[(3, "*", "stray"), (201, "*", "stray")],
        loaded=298,
    )
    ls = lines(rows())
    ls[2] = ls[2].replace("MCBOL", '"MCBOL"x')
    add_events(
        "text_after_closing_quote",
        join(ls),
        quarantined=[(3, "*", "text after a closing quote")],
        loaded=4,
    )
    ls = lines(rows())
    ls[-1] = ls[-1].replace("MCBOL", '"MCBOL')
    add_events(
        "unterminated_quote_on_last_line",
        join(ls),
        quarantined=[(6, "*", "unterminated quoted field")],
        loaded=4,
    )
    ls = lines(rows())
    ls[2] = ls[2].replace("MCBOL", '"MCBOL"')
    add_events("quoted_code_field", join(ls), loaded=5)
    ls = lines(rows())
    ls[2] = ls[2].replace("MCBOL", '"MC\nBOL"')
    add_events(
        "quoted_newline_inside_a_code",
        join(ls),
        quarantined=[(3, "court_code", "unknown code")],
        loaded=4,
    )


def _quoted_newline_on_the_block_boundary(c: _Corpus) -> None:
    """A quoted newline on the reader's block boundary, many records after it."""
    p, out, ids = c.p, c.out, c.ids

    def boundary_file(offset: int) -> tuple[bytes, int]:
        """Offender rows, one of them with a quoted newline whose newline byte lands at
        ``READ_BYTES + offset`` (0: the last byte of the first block); 4,000 rows after."""
        header = ",".join(OFFENDERS_HEADER) + "\n"
        base = next(ids)
        body: list[str] = []
        size = len(header)
        i = 0
        while size < READ_BYTES - 150:
            line = ",".join(offender(base + i)) + "\n"
            body.append(line)
            size += len(line)
            i += 1
        # the record: ...,"Mary<pad>\nAnn",...: its newline at READ_BYTES - 1 + offset
        prefix = ",".join(offender(base + i)[:3]) + ',"Mary'
        pad = READ_BYTES - 1 + offset - size - len(prefix)
        special = prefix + "x" * pad + '\nAnn",' + ",".join(offender(base + i)[4:]) + "\n"
        body.append(special)
        i += 1
        for j in range(4000):
            body.append(",".join(offender(base + i + j)) + "\n")
        return (header + "".join(body)).encode(), len(body)

    for offset in (0, 1, -1):
        data, n = boundary_file(offset)
        out.append(
            Case(
                f"quoted_newline_at_block_boundary_{offset:+d}".replace("+0", "0"),
                f"ndelius/ndelius_offenders_{p.month('ndelius_offenders')}.csv",
                _bytes(data),
                "loaded",
                loaded=n,
            )
        )


def _malformed_records(c: _Corpus) -> None:
    """Records that are not well-formed."""
    p, out, ids, add_events, rows, lines, join = (
        c.p,
        c.out,
        c.ids,
        c.add_events,
        c.rows,
        c.lines,
        c.join,
    )
    ls = lines(rows())
    ls[-1] = ",".join(ls[-1].split(",")[:3])
    add_events(
        "truncated_last_line_no_newline",
        join(ls, final=False),
        quarantined=[(6, "*", "expected 9 fields, found 3")],
        loaded=4,
    )
    ls = lines(rows())
    ls[2] += ",EXTRA"
    add_events(
        "extra_field", join(ls), quarantined=[(3, "*", "expected 9 fields, found 10")], loaded=4
    )
    pad = [",".join(r) for r in rows(40)]  # over 512 bytes before the NUL: not "binary"
    ls = [",".join(EVENTS_HEADER), *pad]
    ls[20] = ls[20].replace("MCBOL", "MC\x00BOL")
    add_events("nul_byte_in_one_row", join(ls), quarantined=[(21, "*", "NUL byte")], loaded=39)
    ls = lines(rows())
    data = join(ls).replace(b"MCBOL", b"MC\xffBOL", 1)
    add_events("invalid_utf8_byte_in_one_row", data, quarantined=[(2, "*", "not UTF-8")], loaded=4)
    o_base = next(ids)
    latin = (
        csv_bytes(OFFENDERS_HEADER, [offender(o_base + i) for i in range(3)])
        + ",".join(offender(o_base + 3, surname="Zoë")).encode("latin-1")
        + b"\n"
    )
    out.append(
        Case(
            "latin1_name_in_utf8_file",
            f"ndelius/ndelius_offenders_{p.month('ndelius_offenders')}.csv",
            _bytes(latin),
            "loaded",
            quarantined=[(5, "*", "not UTF-8")],
            loaded=3,
        )
    )


def _unreadable_files(c: _Corpus) -> None:
    """Files that cannot be read as records."""
    p, out, add_events, rows, lines, join = c.p, c.out, c.add_events, c.rows, c.lines, c.join
    add_events("zero_byte_file", b"", "rejected", reason="file is empty")
    add_events("header_only", join([",".join(EVENTS_HEADER)]), loaded=0)
    add_events(
        "gzip_bytes_named_csv",
        gzip.compress(join(lines(rows())), mtime=0),
        "rejected",
        reason="gzip",
        countable=False,
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("events.csv", join(lines(rows())))
    add_events("zip_bytes_named_csv", buf.getvalue(), "rejected", reason="zip", countable=False)
    add_events(
        "utf16_text",
        join(lines(rows())).decode().encode("utf-16"),
        "rejected",
        reason="UTF-16",
        countable=False,
    )
    add_events(
        "binary_bytes",
        bytes(range(256)) * 8,
        "rejected",
        reason="binary",
        countable=False,
    )
    out.append(
        Case(
            "directory_named_like_a_file",
            f"ndelius/ndelius_events_{p.month('ndelius_events')}.csv",
            _directory,
            "rejected",
            reason="a directory",
            countable=False,
        )
    )

    def symlink(target_data: bytes) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = path.parent.parent.parent / f"outside-{path.name}"  # not in landing
            target.write_bytes(target_data)
            path.symlink_to(target)

        return write

    out.append(
        Case(
            "symlink_named_like_a_file",
            f"ndelius/ndelius_events_{p.month('ndelius_events')}.csv",
            symlink(join(lines(rows()))),
            "rejected",
            reason="symbolic link",
            countable=False,
        )
    )


def _names(c: _Corpus) -> None:
    """File names."""
    out, rows, lines, join = c.out, c.rows, c.lines, c.join
    for case, name in (
        ("name_with_a_typo", "ndelius_evnets_2007-01.csv"),
        ("name_with_a_space", "ndelius_events 2007-01.csv"),
        ("name_with_unicode", "ndelius_évents_2007-01.csv"),
        ("name_with_full_width_digits", "ndelius_events_２００７-01.csv"),
        ("name_with_dot_dot", "ndelius_events_2007-01..csv"),
        ("name_of_another_systems_feed", "oasys_assessments_2007-01.csv"),
        ("name_with_upper_case_extension", "ndelius_events_2007-01.CSV"),
    ):
        out.append(
            Case(
                case,
                f"ndelius/{name}",
                _bytes(join(lines(rows()))),
                "rejected",
                reason="matches no feed",
            )
        )
    out.append(
        Case(
            "file_outside_any_system_folder",
            "stray_notes.txt",
            _bytes(b"A,B\n1,2\n"),
            "rejected",
            reason="matches no feed",
        )
    )


def _periods(c: _Corpus) -> None:
    """Delivery periods."""
    out, rows, lines, join = c.out, c.rows, c.lines, c.join
    add_events_named = [
        ("period_month_13", "ndelius/ndelius_events_2007-13.csv", "not a real month"),
        ("period_month_00", "ndelius/ndelius_events_2007-00.csv", "not a real month"),
        ("period_far_future", "ndelius/ndelius_events_2099-12.csv", "outside the feed's window"),
        ("period_far_past", "ndelius/ndelius_events_1999-01.csv", "outside the feed's window"),
    ]
    for case, path, reason in add_events_named:
        out.append(Case(case, path, _bytes(join(lines(rows()))), "rejected", reason=reason))


def _headers(c: _Corpus) -> None:
    """Header rows."""
    add_events, rows, lines, join = c.add_events, c.rows, c.lines, c.join
    ls = lines(rows())
    ls[0] = ls[0].replace(",COURT_CODE", "")
    add_events("header_missing_column", join(ls), "rejected", reason="missing column(s) COURT_CODE")
    ls = lines(rows())
    ls[0] = ls[0].replace("COURT_CODE", "COURT")
    add_events(
        "header_renamed_column",
        join(ls),
        "rejected",
        reason="1 unexpected column(s) at position(s) 7",
    )
    ls = lines(rows())
    ls[0] = ls[0].replace("ROW_VERSION", "COURT_CODE")
    add_events("header_repeated_column", join(ls), "rejected", reason="repeated column(s)")
    ls = lines(rows())
    ls[0] = ",,,,,,,,"
    add_events("header_blank", join(ls), "rejected", reason="no header line")


def _strict_event_values(c: _Corpus) -> None:
    """Strict values: one bad typed value in an otherwise good events file."""
    add_events, rows = c.add_events, c.rows

    def one_bad_event(case: str, column: str, value: str, reason: str) -> None:
        rs = rows()
        rs[1][EVENTS_HEADER.index(column)] = value
        add_events(
            case,
            csv_bytes(EVENTS_HEADER, rs),
            quarantined=[(3, column.lower(), reason)],
            loaded=4,
        )

    for case, column, value, reason in (
        ("date_day_month_year", "OFFENCE_DATE", "03/02/2008", "not a valid date"),
        ("date_compact", "OFFENCE_DATE", "20080215", "not a valid date"),
        ("date_julian", "OFFENCE_DATE", "J2454512", "not a valid date"),
        ("date_impossible_day", "OFFENCE_DATE", "2008-02-30", "not a valid date"),
        ("date_with_time", "OFFENCE_DATE", "2008-02-03 10:00", "not a valid date"),
        ("date_marker_text", "CONVICTION_DATE", MARKER, "not a valid date"),
        ("int_hex", "EVENT_NUMBER", "0x10", "not a valid whole number"),
        ("int_underscore", "EVENT_NUMBER", "1_000", "not a valid whole number"),
        ("int_plus_sign", "EVENT_NUMBER", "+5", "not a valid whole number"),
        ("int_exponent", "EVENT_NUMBER", "1e3", "not a valid whole number"),
        ("int_decimal", "EVENT_NUMBER", "2.0", "not a valid whole number"),
        ("int_overflow", "OFFENDER_ID", "99999999999999999999", "not a valid whole number"),
        ("int_full_width_digits", "EVENT_NUMBER", "１２", "not a valid whole number"),
        ("int_out_of_range", "EVENT_NUMBER", "1000", "out of range"),
        ("bool_yes", "SOFT_DELETED", "yes", "not a valid boolean"),
        ("bool_true_upper", "SOFT_DELETED", "TRUE", "not a valid boolean"),
        ("bool_on", "SOFT_DELETED", "on", "not a valid boolean"),
        ("bool_two", "SOFT_DELETED", "2", "not a valid boolean"),
        ("code_unknown", "COURT_CODE", "ZZ9", "unknown code"),
        ("required_missing", "OFFENCE_CODE", "", "required field is missing"),
    ):
        one_bad_event(case, column, value, reason)


def _strict_activity_values(c: _Corpus) -> None:
    """Strict values: numbers in the finance activity feed."""
    p, out, ids = c.p, c.out, c.ids

    def activity_file(case: str, values: list[str], bad: list[tuple[int, str]]) -> None:
        period = p.month("finance_activity")
        base = next(ids)
        rs = [activity(base + i, period, v) for i, v in enumerate(values)]
        out.append(
            Case(
                case,
                f"finance/finance_activity_{period}.csv",
                _bytes(csv_bytes(ACTIVITY_HEADER, rs)),
                "loaded",
                quarantined=[(line, "value", reason) for line, reason in bad],
                loaded=len(values) - len(bad),
            )
        )

    activity_file(
        "numeric_nan_and_out_of_range_rows",
        ["10", "NaN", "-5", "20000000", "12.5"],
        [(3, "not a valid number"), (4, "out of range"), (5, "out of range")],
    )
    activity_file(
        "numeric_infinity_keeps_the_range_check_on",
        ["Infinity", "-5", "7"],
        [(2, "not a valid number"), (3, "out of range")],
    )
    activity_file(
        "numeric_1e309_keeps_the_range_check_on",
        ["1e309", "20000000", "7"],
        [(2, "not a valid number"), (3, "out of range")],
    )
    activity_file("numeric_400_digits_out_of_range", ["1" + "0" * 400, "7"], [(2, "out of range")])
    activity_file("numeric_comma_decimal", ["12,5", "7"], [(2, "not a valid number")])
    activity_file("numeric_minus_infinity", ["-inf", "7"], [(2, "not a valid number")])


def _strict_outcome_and_text_values(c: _Corpus) -> None:
    """Strict values: outcome codes, an over-long text field, space-padded values."""
    p, out, ids = c.p, c.out, c.ids

    def outcomes_file(case: str, values: list[tuple[str, str]], bad: list[tuple[int, str]]):  # type: ignore[no-untyped-def]
        base = next(ids)
        rs = [outcome(base + i, n, a) for i, (n, a) in enumerate(values)]
        out.append(
            Case(
                case,
                f"supporting_people/sp_outcomes_{p.month('sp_outcomes')}.csv",
                _bytes(csv_bytes(OUTCOMES_HEADER, rs)),
                "loaded",
                quarantined=[(line, f, "not a valid boolean") for line, f in bad],
                loaded=len(values) - len({line for line, _ in bad}),
            )
        )

    outcomes_file(
        "bool_words_in_partner_feed",
        [("1", "0"), ("Y", "0"), ("1", "false"), ("0", "")],
        [(3, "need_identified"), (4, "outcome_achieved")],
    )
    o_base = next(ids)
    long_rows = [offender(o_base + i) for i in range(3)]
    long_rows[1][OFFENDERS_HEADER.index("SURNAME")] = MARKER + "x" * (5 * (1 << 20))
    out.append(
        Case(
            "surname_of_5_mib",
            f"ndelius/ndelius_offenders_{p.month('ndelius_offenders')}.csv",
            _bytes(csv_bytes(OFFENDERS_HEADER, long_rows)),
            "loaded",
            quarantined=[(3, "surname", "longer than the declared maximum")],
            loaded=2,
        )
    )
    o_base = next(ids)
    spaced = [offender(o_base + i) for i in range(3)]
    spaced[0][OFFENDERS_HEADER.index("ETHNICITY")] = "   "
    spaced[1][OFFENDERS_HEADER.index("PREVIOUS_SANCTIONS")] = " 5 "
    out.append(
        Case(
            "spaces_only_code_and_padded_number_load",
            f"ndelius/ndelius_offenders_{p.month('ndelius_offenders')}.csv",
            _bytes(csv_bytes(OFFENDERS_HEADER, spaced)),
            "loaded",
            loaded=3,
        )
    )


def _keys_and_row_versions(c: _Corpus) -> None:
    """Keys and row versions."""
    p, out, ids, add_events, rows = c.p, c.out, c.ids, c.add_events, c.rows
    rs = rows()
    rs.append(list(rs[1]))
    add_events(
        "duplicate_key_same_version",
        csv_bytes(EVENTS_HEADER, rs),
        quarantined=[(7, "event_id+row_version", "duplicate key: already delivered at line 3")],
        loaded=5,
    )
    d = next(ids)
    out.append(
        Case(
            "disposal_starting_and_ending_in_one_month_keeps_both_versions",
            f"ndelius/ndelius_disposals_{p.month('ndelius_disposals')}.csv",
            _bytes(
                csv_bytes(
                    DISPOSALS_HEADER,
                    [disposal(d), disposal(d, 2, "2007-01-30", "BREACH"), disposal(d + 1)],
                )
            ),
            "loaded",
            loaded=3,
        )
    )


def _workbook_sheets(c: _Corpus) -> None:
    """Workbooks: which sheet holds the records."""
    p, out, ids = c.p, c.out, c.ids
    fy = p.year()
    out.append(
        Case(
            "workbook_notes_sheet_first",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(lambda b, m=f"{fy[:4]}-04": _ledger_sheet(b, m, next(ids), notes_first=True)),
            "loaded",
            loaded=5,
        )
    )
    fy = p.year()

    def no_ledger(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        sheet = book.create_sheet("Budget")
        sheet.append(LEDGER_HEADER)
        sheet.append(ledger(1, m))

    out.append(
        Case(
            "workbook_without_the_declared_sheet",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(no_ledger),
            "rejected",
            reason="no sheet named 'Ledger'",
            countable=False,
        )
    )
    fy = p.year()

    def formula(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        sheet = _ledger_sheet(book, m, next(ids))
        sheet["G3"] = "=F3*0.99"

    out.append(
        Case(
            "workbook_formula_cell",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(formula),
            "loaded",
            quarantined=[(3, "actual_gbp", "formula cell")],
            loaded=4,
        )
    )
    fy = p.year()

    def merged(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        sheet = _ledger_sheet(book, m, next(ids))
        sheet.merge_cells("C4:C5")

    out.append(
        Case(
            "workbook_merged_cells",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(merged),
            "loaded",
            quarantined=[(4, "service_code", "merged cell"), (5, "service_code", "merged cell")],
            loaded=3,
        )
    )


def _workbook_cells(c: _Corpus) -> None:
    """Workbooks: cells that are not plain values, and workbook periods."""
    p, out, ids = c.p, c.out, c.ids
    fy = p.year()

    def error_cell(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        sheet = _ledger_sheet(book, m, next(ids))
        sheet["F2"] = "#DIV/0!"

    out.append(
        Case(
            "workbook_error_cell",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(error_cell),
            "loaded",
            quarantined=[(2, "budget_gbp", "error cell")],
            loaded=4,
        )
    )
    fy = p.year()

    def text_number(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        sheet = _ledger_sheet(book, m, next(ids))
        sheet["F6"] = "n/a"
        sheet["A2"] = "April"

    out.append(
        Case(
            "workbook_text_in_number_and_period_cells",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(text_number),
            "loaded",
            quarantined=[(2, "period", "does not match"), (6, "budget_gbp", "not a valid number")],
            loaded=3,
        )
    )
    fy = p.year()
    out.append(
        Case(
            "workbook_garbage_bytes",
            f"finance/finance_ledger_{fy}.xlsx",
            _bytes(b"this is not a workbook\n" * 10),
            "rejected",
            reason="workbook cannot be read",
            countable=False,
        )
    )
    fy = p.year()
    out.append(
        Case(
            "workbook_zero_bytes",
            f"finance/finance_ledger_{fy}.xlsx",
            _bytes(b""),
            "rejected",
            reason="file is empty",
        )
    )
    out.append(
        Case(
            "workbook_period_not_a_financial_year",
            "finance/finance_ledger_2007-09.xlsx",
            _workbook(lambda b: _ledger_sheet(b, "2007-04", next(ids))),
            "rejected",
            reason="not a financial year",
        )
    )


def _workbook_extent(c: _Corpus) -> None:
    """Workbooks: a sheet whose extent is far larger than its records."""
    p, out, ids = c.p, c.out, c.ids
    fy = p.year()

    def far_and_empty(book, m=f"{fy[:4]}-04"):  # type: ignore[no-untyped-def]
        from openpyxl.styles import Font

        sheet = _ledger_sheet(book, m, next(ids))
        for row in (7, 8, 9):  # formatted, without a value: not records
            sheet.cell(row=row, column=2).font = Font(bold=True)
        sheet["Z10"] = "stray"  # a value far right of the header: its row is faulty
        sheet["XFD1048576"].font = Font(bold=True)  # the sheet's extent: 17 billion cells

    out.append(
        Case(
            "workbook_formatted_rows_and_far_cells",
            f"finance/finance_ledger_{fy}.xlsx",
            _workbook(far_and_empty),
            "loaded",
            quarantined=[(10, "column 26", "value beyond the header")],
            loaded=5,
        )
    )


SECTIONS = (
    _line_endings,
    _quoting,
    _quoted_newline_on_the_block_boundary,
    _malformed_records,
    _unreadable_files,
    _names,
    _periods,
    _headers,
    _strict_event_values,
    _strict_activity_values,
    _strict_outcome_and_text_values,
    _keys_and_row_versions,
    _workbook_sheets,
    _workbook_cells,
    _workbook_extent,
)


def cases() -> list[Case]:
    """Every case, section by section (each section takes its own periods and key values)."""
    c = _Corpus()
    for section in SECTIONS:
        section(c)
    out = c.out
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "case names must be distinct"
    paths = [c.path for c in out]
    assert len(paths) == len(set(paths)), "case paths must be distinct"
    return out


def write(landing: Path) -> list[Case]:
    """Write every case into ``landing``; returns the cases."""
    all_cases = cases()
    for case in all_cases:
        case.write(landing / case.path)
    return all_cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "fault-corpus")
    written = write(target)
    print(f"{len(written)} cases written to {target}")
