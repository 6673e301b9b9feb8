"""Reading a subscribers CSV as a stream of checked rows.

The file is never read whole: one pass checks that it is UTF-8 (so a Latin-1 export fails before
anything is imported, naming the line), a second one yields rows a batch at a time. Rows are numbered
by the physical line they start on, as an editor shows them; lines end with LF, CRLF or (old Mac
files) a lone CR.

Whatever a file holds, memory stays bounded and every problem is one ``FILE:LINE: reason``: a line
over :data:`MAX_LINE_BYTES` is skipped unread, a cell over the csv module's limit (128 KB) or over
:data:`MAX_FIELD` characters, a control character such as NUL (PostgreSQL cannot store it) or an
over-long list name makes its row bad, and a header of more than :data:`MAX_COLUMNS` columns is refused.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import InputError, Problem, display_path
from ..store import MAX_LIST_NAME, SUBSCRIBER_STATUSES, NewSubscriber, fold_list_name
from .address import BadAddress, normalize
from .seen import SeenKeys

MAX_FIELD = 1000
#: Columns a header may have (each becomes an attribute of every subscriber).
MAX_COLUMNS = 1000
#: A physical line longer than this is not read: its row is reported bad.
MAX_LINE_BYTES = 4 * 1024 * 1024
#: Consent times, as an export writes them.
TIME_COLUMNS = ("confirmed_at", "unsubscribed_at")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR may be in a cell
READ_CHUNK = 64 * 1024
BOM = codecs.BOM_UTF8
SAMPLE_BYTES = 16 * 1024
DELIMITERS = ",;\t"
#: Cells an export protected from spreadsheet formulas start with a quote before one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class BadRow:
    """A row that cannot be imported."""

    problem: Problem


@dataclass
class Duplicate:
    """An address seen earlier in the same file; the first row wins."""

    problem: Problem


def physical_lines(f, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The lines of a binary file, ends kept; None for a line over ``limit`` bytes, whose bytes
    are skipped without being held. Lines end with LF (and CRLF), or with CR in an old Mac file
    (one whose first block has a CR and no LF)."""
    sample = f.read(SAMPLE_BYTES)
    f.seek(0)
    if b"\r" in sample and b"\n" not in sample:
        yield from _split_lines(f, b"\r", limit)
        return
    while line := f.readline(limit + 1):
        if len(line) > limit:
            while not line.endswith(b"\n") and (line := f.readline(limit + 1)):
                pass
            yield None
        else:
            yield line


def _split_lines(f, separator: bytes, limit: int) -> Iterator[bytes | None]:
    rest = b""
    too_long = False  # the line being read is over the limit: its bytes are dropped
    while chunk := f.read(READ_CHUNK):
        *lines, rest = (rest + chunk).split(separator)
        for line in lines:
            yield None if too_long or len(line) >= limit else line + separator
            too_long = False
        if len(rest) > limit:
            rest, too_long = b"", True
    if rest or too_long:
        yield None if too_long else rest


def check_utf8(path: Path) -> None:
    """Raise one InputError naming the first line that is not UTF-8."""
    with path.open("rb") as f:
        for number, line in enumerate(physical_lines(f), start=1):
            try:
                if line is not None:
                    line.decode("utf-8")  # a line never ends inside a character: LF and CR are ASCII
            except UnicodeDecodeError as exc:
                raise InputError.at(
                    path, number,
                    f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8 and import it again",
                ) from None


def _lines(path: Path, too_long: list[int] | None = None) -> Iterator[str]:
    """Decoded lines for the csv module; a line over the limit becomes an empty one, its number
    noted in ``too_long`` when given."""
    with path.open("rb") as f:
        for number, line in enumerate(physical_lines(f), start=1):
            if line is None:
                if too_long is not None:
                    too_long.append(number)
                yield "\n"
                continue
            if number == 1:
                line = line.removeprefix(BOM)
            yield line.decode("utf-8")


def sniff_delimiter(path: Path) -> str:
    """``,``, ``;`` or tab, from the first few KB (the header decides when the sniffer cannot)."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES).removeprefix(BOM).decode("utf-8", errors="ignore")
    if "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    header = sample.splitlines()[0] if sample else ""
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        if "email" in [cell.strip().lower() for cell in header.split(delimiter)]:
            return delimiter
    except csv.Error:
        pass
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _unprotect(cell: str) -> str:
    # Undo an export's formula protection, so export → import gives back the same values.
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def read_batches(path: Path, size: int = 10_000) -> Iterator[list[NewSubscriber | BadRow | Duplicate]]:
    """The data rows of the file, in order, ``size`` at a time: each a subscriber to upsert, a bad
    row or a duplicate. Duplicates are found a batch at a time (see :class:`SeenKeys`)."""
    shown = display_path(path)
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    check_utf8(path)
    too_long: list[int] = []
    reader = csv.reader(_lines(path, too_long), delimiter=sniff_delimiter(path), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError.at(path, 1, "the file is empty; expected a header row with an email column") from None
    except csv.Error as exc:
        raise InputError.at(path, 1, f"the header row is not readable: {csv_reason(exc)}") from None
    if too_long:
        raise InputError.at(path, 1, f"the header row is longer than {MAX_LINE_BYTES // 1024 // 1024} MB")
    columns = Columns.of(_header(shown, header))

    seen = SeenKeys()
    batch: list[NewSubscriber | BadRow] = []
    try:
        line = reader.line_num + 1
        while True:
            start = line
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row = None
                problem = csv_reason(exc)
            line = reader.line_num + 1
            while too_long and too_long[0] < line:  # a line of this row was skipped unread
                row, problem = None, f"line {too_long.pop(0)} is longer than {MAX_LINE_BYTES // 1024 // 1024} MB"
            batch.append(BadRow(Problem(shown, start, problem)) if row is None else _check(shown, start, columns, row))
            if len(batch) >= size:
                yield _without_duplicates(shown, batch, seen)
                batch = []
        if batch:
            yield _without_duplicates(shown, batch, seen)
    finally:
        seen.close()


def _without_duplicates(shown: str, batch: list, seen: SeenKeys) -> list[NewSubscriber | BadRow | Duplicate]:
    """The batch with each address seen before in the file (the first row wins) made a Duplicate."""
    rows = [item for item in batch if type(item) is NewSubscriber]
    firsts = seen.first_lines([(row.key, row.line) for row in rows])
    if not any(firsts):
        return batch
    dropped = {id(row): Duplicate(Problem(shown, row.line, f"{row.email} already on line {first}; skipped"))
               for row, first in zip(rows, firsts) if first is not None}
    return [dropped.get(id(item), item) for item in batch]


def csv_reason(exc: csv.Error) -> str:
    """What a csv module error means, in the words of a ``FILE:LINE`` message."""
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {csv.field_size_limit():,} characters (at most {MAX_FIELD:,})"
    return f"not readable as CSV: {exc}"


def _header(shown: str, header: list[str]) -> list[str]:
    """The column names (lowercased), or an InputError listing every problem with them."""
    if len(header) > MAX_COLUMNS:
        raise InputError([Problem(shown, 1, f"the header has {len(header):,} columns, at most {MAX_COLUMNS:,} are supported")])
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    problems = []
    if "email" not in names:
        problems.append(Problem(shown, 1, f"no 'email' column in the header ({', '.join(names) or 'empty'})"))
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            problems.append(Problem(shown, 1, f"column {i + 1} has no name"))
        elif _CONTROL.search(name):
            problems.append(Problem(shown, 1, f"column {i + 1}: the name holds a control character"))
        elif len(name) > MAX_FIELD:
            problems.append(Problem(shown, 1, f"column {i + 1}: the name is longer than {MAX_FIELD} characters"))
        elif name in seen:
            problems.append(Problem(shown, 1, f"column '{name}' appears twice"))
        seen.add(name)
    if problems:
        raise InputError(problems[:20])
    return names


@lru_cache(maxsize=1024)
def _list_names(cell: str) -> tuple[str, ...]:
    """The folded list names of a ``lists`` cell, each once (cells repeat: remembered)."""
    return tuple(dict.fromkeys(fold_list_name(part) for part in cell.split(";") if part.strip()))


@dataclass(frozen=True)
class Columns:
    """Where each column is, found once from the header (the row check runs a million times)."""

    names: list[str]
    email: int
    name: int | None
    lists: int | None
    status: int | None
    times: tuple[tuple[str, int], ...]
    #: Every other column: (name, index), an attribute of the subscriber.
    attributes: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, names: list[str]) -> "Columns":
        where = {name: i for i, name in enumerate(names)}
        own = {"email", "name", "lists", "status", *TIME_COLUMNS}
        return cls(names, where["email"], where.get("name"), where.get("lists"), where.get("status"),
                   tuple((column, where[column]) for column in TIME_COLUMNS if column in where),
                   tuple((name, i) for i, name in enumerate(names) if name not in own))


def _bad(shown: str, line: int, message: str) -> BadRow:
    return BadRow(Problem(shown, line, message))


def _check(shown: str, line: int, columns: Columns, row: list[str]) -> NewSubscriber | BadRow:
    names = columns.names
    width = len(names)
    cells = row[:width] if len(row) >= width else row + [""] * (width - len(row))
    text = "".join(cells)
    if not text.strip() and not "".join(row).strip():
        return _bad(shown, line, "empty row")
    if len(row) > width and "".join(row[width:]).strip():
        return _bad(shown, line, f"{len(row)} fields, but the header has {width}")
    if len(text) > MAX_FIELD and max(map(len, cells)) > MAX_FIELD:
        name = next(n for n, c in zip(names, cells) if len(c) > MAX_FIELD)
        return _bad(shown, line, f"{name}: longer than {MAX_FIELD} characters")
    if _CONTROL.search(text):  # one search per row; which cell only when needed
        name, control = next((n, m) for n, c in zip(names, cells) if (m := _CONTROL.search(c)))
        return _bad(shown, line, f"{name}: holds a control character (U+{ord(control.group()):04X}), which the store cannot keep")
    if "'" in text:
        cells = [_unprotect(cell) for cell in cells]
    try:
        email, key = normalize(cells[columns.email])
    except BadAddress as exc:
        return _bad(shown, line, str(exc))
    lists = _list_names(cells[columns.lists]) if columns.lists is not None else ()
    for name in lists:
        if len(name) > MAX_LIST_NAME:
            return _bad(shown, line, f"lists: a list name of {len(name)} characters (at most {MAX_LIST_NAME})")
    # The store's own record (an export writes it, so does a provider's suppression export), never
    # attributes: an address that left stays out, a pending one stays pending.
    status = (cells[columns.status].strip().lower() or None) if columns.status is not None else None
    if status is not None and status not in SUBSCRIBER_STATUSES:
        return _bad(shown, line, f"status: {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")
    times = {}
    for column, i in columns.times:
        if value := cells[i].strip():
            try:
                times[column] = _time(value)
            except ValueError:
                return _bad(shown, line, f"{column}: {value!r} is not a date and time like 2026-01-31T08:00:00+00:00")
    return NewSubscriber(
        email=email, key=key, name=cells[columns.name].strip() if columns.name is not None else "", lists=list(lists),
        attributes={name: value for name, i in columns.attributes if (value := cells[i].strip())}, line=line,
        status=status, **times)


def _time(text: str) -> dt.datetime:
    """An ISO 8601 time; UTC when it has no offset."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
