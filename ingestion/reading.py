"""Reading a delivered file: one streaming pass that splits CSV bytes into records.

The reader knows the CSV dialect facts the loader depends on, per file:

* a UTF-8 byte order mark is dropped; UTF-16 text, gzip/zip archives and bytes with NULs
  in the first block are refused as files (they cannot be read as records);
* line endings are detected from the header (LF, CRLF or CR only) and normalised to LF
  before splitting, so one faulty row, a trailing blank line or a missing final newline
  in a CRLF file costs only that row;
* quoting is tracked across every buffer boundary: a block is cut after the last record
  terminator *outside* quotes, so a quoted newline never splits a record, wherever the
  read boundary falls;
* a quote may open a field only at its start and close it only before a comma or the end
  of the record (RFC 4180); a stray quote inside an unquoted field (``O"Brien``) makes that
  record malformed and is not taken as the start of a quoted field, so it swallows nothing;
* a record may span at most ``MAX_RECORD_LINES`` physical lines (no feed declares a
  multi-line field): a quote that opens a field and does not close within them (``"Zeph``),
  or line ends that change after the header (an LF header, then rows ending in CR only),
  would fold many rows into one record, so the file is rejected naming the line
  (``RecordRunsOn``), and its rows are counted as physical lines (``count_records``);
* a record holding a control byte (but a line break), DEL or a bidirectional override
  goes the exact way, where SQL names the field that holds it (``staging.UNSAFE_TEXT``).

All of it is set-based over whole blocks (numpy on the bytes: quotes, their parity,
separators, terminators; the format screen), with no per-record Python work except for the
few records it must replace. Each physical line is one COPY row: a malformed or blank line,
a record the screen sends the exact way, and a continuation line are all-empty placeholders
(left out by COPY's WHERE), so a row's position in its chunk is its line number.

The reader hashes the very bytes it reads (sha256), so the registry records the hash of
what was loaded, not of what the file held earlier or later.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingestion.layout import (
    COMMA,
    CR,
    LF,
    NUL,
    QUOTE,
    BlockScan,
    Layout,
    RecordRunsOn,
    first_terminator,
    record_layout,
)
from ingestion.load_records import FileRejected
from ingestion.screen import FormatScreen

READ_BYTES = 1 << 20
FIX_LIST_LIMIT = 5_000  # more lines than this with spaces or lower case: fix-check every row
RECORD_TEXT_LIMIT = 2_000  # characters of a malformed record kept in quarantine

BOM = b"\xef\xbb\xbf"
ARCHIVES = {
    b"\x1f\x8b": "gzip-compressed data",
    b"PK\x03\x04": "a zip archive (or a workbook)",
    b"PK\x05\x06": "an empty zip archive",
    b"BZh": "bzip2-compressed data",
    b"\xfd7zXZ\x00": "xz-compressed data",
}


@dataclass(frozen=True)
class Dialect:
    name: str  # "LF", "CRLF" or "CR"
    bom: bool


@dataclass
class Chunk:
    """Consecutive records COPYed together into one staging sub-partition."""

    first_line: int
    last_line: int = 0  # last physical line (the range is first_line..last_line)
    parts: list[bytes] = field(default_factory=list)
    records: int = 0  # COPY rows (one per physical line, placeholders included)
    placeholders: list[int] = field(default_factory=list)  # malformed, blank, continuation
    # records the format screen could not pass: COPYed as text, each prefixed by its line
    exact: list[bytes] = field(default_factory=list)
    exact_lines: list[int] = field(default_factory=list)
    # lines holding a space, a lower-case letter or a quote (None: too many, check all)
    fix_lines: list[int] | None = field(default_factory=list)

    def may_need_fixing(self, lines: list[int] | None) -> None:
        if self.fix_lines is None or lines is None:
            self.fix_lines = None
        else:
            self.fix_lines.extend(lines)
            if len(self.fix_lines) > FIX_LIST_LIMIT:
                self.fix_lines = None

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass
class ReadStats:
    """What the streaming pass learnt about a file."""

    records: int = 0  # data records read (well-formed or not; blank lines are not records)
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # line, record, reason
    # rows a converter (workbooks) found faulty before the pass: line -> (field, reason)
    preset: dict[int, tuple[str, str]] = field(default_factory=dict)
    preset_failed: list[tuple[int, str, str, str]] = field(default_factory=list)  # +record


def malformed_reason(width: int, found: int) -> str:
    return f"expected {width} fields, found {found} (truncated or malformed line)"


def check_path(path: Path) -> None:
    """Refuse a delivered path that is not a regular, readable file of CSV-like bytes."""
    if path.is_symlink():
        raise FileRejected("a symbolic link, not a delivered file (not followed)", countable=False)
    if path.is_dir():
        raise FileRejected("a directory, not a file", countable=False)
    if not path.is_file():
        raise FileRejected("not a regular file (device, socket or pipe)", countable=False)


def sniff(head: bytes) -> Dialect:
    """The file's dialect from its first bytes; refuses bytes that are not text records."""
    for magic, what in ARCHIVES.items():
        if head.startswith(magic):
            raise FileRejected(f"file holds {what}, not CSV text", countable=False)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("file is UTF-16 text, not UTF-8", countable=False)
    if b"\x00" in head[:512] or head.count(b"\x00") * 100 > len(head):
        raise FileRejected("file holds binary data (NUL bytes), not CSV text", countable=False)
    bom = head.startswith(BOM)
    cr, lf = head.find(b"\r"), head.find(b"\n")
    if cr == -1 or (lf != -1 and lf < cr):
        name = "LF"
    elif lf == cr + 1:
        name = "CRLF"
    else:
        name = "CR"
    return Dialect(name, bom)


class RecordReader:
    """One pass over a delivered CSV: its header record, then chunks of COPY-ready rows.

    ``hexdigest()`` is the sha256 of the bytes read, once the pass has finished."""

    def __init__(self, path: Path, read_bytes: int | None = None) -> None:
        self.path = path
        self.read_bytes = read_bytes or READ_BYTES
        self._sha = hashlib.sha256()
        self.bytes_read = 0
        self.dialect: Dialect | None = None
        self._file = path.open("rb")
        self._pending = b""  # normalised bytes read but not yet split
        self._held_cr = False  # a CRLF file's block ended between \r and \n
        self._eof = False
        self.header: list[str] | None = None

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    # -- bytes ----------------------------------------------------------------------------
    def _read(self) -> bytes:
        """The next block of bytes, line endings normalised to LF."""
        data = self._file.read(self.read_bytes)
        if not data:
            self._eof = True
            held, self._held_cr = self._held_cr, False
            return b"\n" if held else b""  # a CR as the file's last byte ends its line
        self._sha.update(data)
        self.bytes_read += len(data)
        if self.dialect is None:
            # the header's end decides (a CR as the block's last byte may precede an LF)
            while (b"\n" not in data and b"\r" not in data) or data.endswith(b"\r"):
                more = self._file.read(self.read_bytes)
                if not more:
                    break
                self._sha.update(more)
                self.bytes_read += len(more)
                data += more
            self.dialect = sniff(data)
            if self.dialect.bom:
                data = data[len(BOM) :]
        if self.dialect.name == "CR":
            return data.replace(b"\r", b"\n")
        # LF or CRLF: a CRLF is a line end in either (a file whose header ends in LF and
        # rows in CRLF loses nothing); a bare CR is a fault of its record
        if self._held_cr:
            data = b"\r" + data
        self._held_cr = data.endswith(b"\r")
        if self._held_cr:
            data = data[:-1]
        data = data.replace(b"\r\n", b"\n")
        return data

    def read_header(self) -> list[str]:
        """The header record, normalised (stripped, upper case)."""
        if self.path.stat().st_size == 0:
            raise FileRejected("file is empty (0 bytes, no header)")
        first = self._first_record()
        try:
            text = first.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileRejected(
                f"file is not UTF-8 text (header, byte {exc.start + 1})", countable=False
            ) from None
        header = next(csv.reader([text]), None)
        if not header or not any(h.strip() for h in header):
            raise FileRejected("file has no header line")
        self.header = [h.strip().upper() for h in header]
        return self.header

    def _first_record(self) -> bytes:
        """The first record's bytes (the header), whatever they hold."""
        while True:
            end = first_terminator(self._pending)
            if end >= 0 or self._eof:
                break
            self._pending += self._read()
        if end < 0:
            end = len(self._pending)
        first, self._pending = self._pending[:end], self._pending[end + 1 :]
        return first

    # -- records --------------------------------------------------------------------------
    def chunks(
        self, width: int, stats: ReadStats, chunk_rows: int, screen: FormatScreen | None = None
    ) -> Iterator[Chunk]:
        """Chunks of COPY-ready bytes (LF-terminated rows, one per physical line), in order
        (after the header: ``read_header`` first). With a ``screen``, a record it cannot pass
        (and a record over several lines) is a placeholder in ``parts`` and goes to
        ``exact`` instead."""
        chunk = Chunk(first_line=2)
        line = 2
        while True:
            if self._eof:
                data = self._pending
            else:
                data = self._pending + self._read()
            final = self._eof
            if not data and final:
                break
            scan = _scan(data, width, line, final, stats, screen)
            if scan is None:  # no whole record in the block yet: read more
                self._pending = data
                continue
            self._pending = data[scan.consumed :]
            chunk.parts.extend(scan.parts)
            chunk.placeholders.extend(scan.placeholders)
            chunk.exact.extend(scan.exact)
            chunk.exact_lines.extend(scan.exact_lines)
            chunk.may_need_fixing(scan.fix_lines)
            chunk.records += scan.lines
            line += scan.lines
            chunk.last_line = line - 1
            if chunk.records >= chunk_rows:
                yield chunk
                chunk = Chunk(first_line=line)
            if final and not self._pending:
                break
        if chunk.records:
            yield chunk


def _faults(lay: Layout, width: int, stats: ReadStats) -> tuple[dict[int, str], np.ndarray]:
    """Why each faulty record is malformed (record index -> reason; '' for a record a
    workbook converter already found faulty: its reason names the field), and the block's
    field separators (commas outside quotes)."""
    arr, active, ends, empty = lay.arr, lay.active, lay.ends, lay.empty
    reasons: dict[int, str] = {}

    def flag(positions: np.ndarray, reason: str) -> None:
        if len(positions):
            for i in np.unique(np.searchsorted(ends, positions)).tolist():
                if i < lay.n and not empty[i]:
                    reasons.setdefault(i, reason)

    flag(lay.stray, 'quote inside an unquoted field (a stray ")')
    closing = active[1::2]
    after = arr[np.minimum(closing + 1, len(arr) - 1)]
    flag(
        closing[(after != COMMA) & (after != LF) & (after != QUOTE)],
        "text after a closing quote (malformed quoted field)",
    )
    if b"\r" in lay.data:  # memchr: most blocks hold none
        crs = np.flatnonzero(arr == CR)
        flag(crs[np.searchsorted(active, crs) % 2 == 0], "carriage return outside quotes")
    if b"\x00" in lay.data:
        flag(np.flatnonzero(arr == NUL), "NUL byte in the line (binary data)")
    _utf8_faults(lay, reasons)
    commas = np.flatnonzero(arr == COMMA)
    separators = commas if not len(active) else commas[np.searchsorted(active, commas) % 2 == 0]
    fields = np.diff(np.searchsorted(separators, ends), prepend=0) + 1
    for i in np.flatnonzero((fields != width) & ~empty).tolist():
        reasons.setdefault(i, malformed_reason(width, int(fields[i])))
    for i in range(lay.n) if stats.preset else ():
        preset = stats.preset.get(int(lay.lines[i]))
        if preset is not None and i not in reasons:
            reasons[i] = ""
            text = _as_text(lay.data[int(lay.starts[i]) : int(ends[i])])
            stats.preset_failed.append((int(lay.lines[i]), *preset, text))
    return reasons, separators


def _utf8_faults(lay: Layout, reasons: dict[int, str]) -> None:
    """Records that are not UTF-8 (each record decoded alone only if the block fails)."""
    try:
        lay.data[: lay.normal_end].decode("utf-8")
    except UnicodeDecodeError:
        for i in range(lay.n):
            try:
                lay.data[int(lay.starts[i]) : int(lay.ends[i])].decode("utf-8")
            except UnicodeDecodeError as exc:
                reasons.setdefault(i, f"not UTF-8 text (byte {exc.start + 1} of the line)")


def _scan(
    data: bytes,
    width: int,
    first_line: int,
    final: bool,
    stats: ReadStats,
    screen: FormatScreen | None = None,
) -> BlockScan | None:
    """Split ``data`` (starting at a record boundary) into COPY rows, one per physical
    line; ``None`` if it holds no whole record and more bytes may follow."""
    if final and data and not data.endswith(b"\n"):
        data += b"\n"  # no final newline: the last record still ends here
    lay = record_layout(data, first_line, final)
    if lay is None:
        return None
    reasons, separators = _faults(lay, width, stats)
    exact = (
        screen.exact_records(lay.arr, lay.starts, lay.ends, lay.spans, set(reasons), separators)
        | (_unsafe_text_records(lay) - set(reasons))
        if screen is not None
        else set()
    )
    many = np.flatnonzero(lay.empty | (lay.spans > 1)).tolist()
    scan = BlockScan(0, 0, [], [], _fix_lines(lay))
    placeholder = b"," * (width - 1) + b"\n"
    pos = 0
    for i in sorted(set(reasons) | exact | set(many)):
        s, e = int(lay.starts[i]), int(lay.ends[i]) + 1
        line, span = int(lay.lines[i]), int(lay.spans[i])
        scan.parts.append(data[pos:s])
        if i in reasons or lay.empty[i]:
            if reasons.get(i):
                stats.malformed.append((line, _as_text(data[s:e]), reasons[i]))
            scan.parts.append(placeholder * span)
            scan.placeholders.extend(range(line, line + span))
        elif i in exact:  # the exact way, by its line number; its lines are placeholders
            scan.parts.append(placeholder * span)
            scan.exact.append(b"%d," % line + data[s:e])
            scan.exact_lines.append(line)
            scan.placeholders.extend(range(line + 1, line + span))
        else:  # a record over several lines: a placeholder for each continuation line
            scan.parts.append(data[s:e] + placeholder * (span - 1))
            scan.placeholders.extend(range(line + 1, line + span))
        pos = e
    scan.parts.append(data[pos : lay.normal_end])
    scan.lines = int(lay.spans.sum()) if lay.n else 0
    stats.records += int(lay.n - lay.empty.sum())
    if lay.unterminated is not None and lay.unterminated < len(data):
        tail = data[lay.unterminated :]
        span = tail.count(b"\n") or 1
        line = first_line + scan.lines
        reason = "unterminated quoted field (truncated or malformed)"
        stats.malformed.append((line, _as_text(tail), reason))
        stats.records += 1
        scan.parts.append(placeholder * span)
        scan.placeholders.extend(range(line, line + span))
        scan.lines += span
    scan.consumed = len(data) if lay.unterminated is not None else lay.normal_end
    return scan


def _unsafe_text_records(lay: Layout) -> set[int]:
    """Records holding a control byte (C0 but the line breaks, DEL) or a bidirectional
    override or isolate (U+202A-U+202E, U+2066-U+2069): the exact way names the field."""
    head = lay.arr[: lay.normal_end]
    allowed = int(lay.spans.sum())  # the LFs (memchr first: bytes.count is slower)
    for byte, value in ((b"\r", CR), (b"\x00", NUL)):
        if byte in lay.data:
            allowed += int(np.count_nonzero(head == value))
    if np.count_nonzero(head < 32) == allowed:  # most blocks: line breaks only
        hit = np.zeros(0, dtype=np.int64)
    else:
        low = np.flatnonzero(head < 32)
        hit = low[(head[low] != LF) & (head[low] != CR) & (head[low] != NUL)]
    if b"\x7f" in lay.data:
        hit = np.concatenate((hit, np.flatnonzero(head == 127)))
    if b"\xe2" in lay.data:  # memchr: most blocks hold none
        lead = np.flatnonzero(head[:-2] == 0xE2)
        second, third = head[lead + 1], head[lead + 2]
        bidi = ((second == 0x80) & (third >= 0xAA) & (third <= 0xAE)) | (
            (second == 0x81) & (third >= 0xA6) & (third <= 0xA9)
        )
        hit = np.concatenate((hit, lead[bidi]))
    if not len(hit):
        return set()
    records = np.unique(np.searchsorted(lay.ends, hit))
    return {int(i) for i in records if i < lay.n and not lay.empty[i]}


def _fix_lines(lay: Layout) -> list[int] | None:
    """Lines holding a space, a tab, a lower-case letter or a quote (``""``, an empty quoted
    field, is COPYed as an empty text, not null: the fix makes it null, as an empty field
    is, so a required check sees it) (None: too many to list)."""
    head = lay.arr[: lay.normal_end]
    odd = np.flatnonzero(
        (head == 32) | (head == 9) | (head == QUOTE) | ((head >= 97) & (head <= 122))
    )
    if not len(odd):
        return []
    hit = np.unique(np.searchsorted(lay.ends, odd))
    hit = hit[hit < lay.n]
    return lay.lines[hit].tolist() if len(hit) <= FIX_LIST_LIMIT else None


def _as_text(record: bytes) -> str:
    """A record as quarantine keeps it: text (bad bytes replaced, NUL shown as U+FFFD,
    since PostgreSQL text cannot hold it), cut at ``RECORD_TEXT_LIMIT`` characters."""
    text = record.decode("utf-8", "replace").rstrip("\n").replace("\x00", "\ufffd")
    return text[:RECORD_TEXT_LIMIT]


def count_records(path: Path) -> int | None:
    """Records after the first (the header, valid or not), by the same reader (None: the
    file cannot be read as records); a file whose records run on (``RecordRunsOn``)
    counts its non-blank physical lines instead."""
    stats = ReadStats()
    try:
        with RecordReader(path) as reader:
            if path.stat().st_size == 0:
                return 0
            reader._first_record()
            for _ in reader.chunks(2, stats, chunk_rows=1 << 30):
                pass
    except RecordRunsOn:
        return physical_lines(path) - 1
    except (FileRejected, OSError):
        return None
    return stats.records


def physical_lines(path: Path) -> int:
    """Non-blank lines of a file, whatever ends them (LF, CRLF or CR), quotes ignored."""
    count, carry = 0, b""
    with path.open("rb") as f:
        while block := f.read(READ_BYTES):
            # a CR at the block's end may be half of a CRLF: keep it with the next block
            lines = (carry + block).splitlines(keepends=True)
            carry = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
            count += sum(1 for ln in lines if ln.strip(b"\r\n"))
    return count + (1 if carry.strip(b"\r\n") else 0)
