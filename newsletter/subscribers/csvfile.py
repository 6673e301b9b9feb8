"""Reading a subscribers CSV as a stream of checked rows.

The file is never read whole: one pass checks that it is UTF-8 (so a Latin-1 export fails before
anything is imported, naming the line), a second one yields rows one at a time. Rows are numbered
by the physical line they start on, as an editor shows them.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Problem, display_path
from ..store import SUPPRESSED, NewSubscriber
from .address import BadAddress, normalize
from .seen import SeenKeys

MAX_FIELD = 1000
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


def check_utf8(path: Path) -> None:
    """Raise one InputError naming the first line that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                raise InputError.at(
                    path, number,
                    f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8 and import it again",
                ) from None


def _lines(path: Path) -> Iterator[str]:
    with path.open("rb") as f:
        first = True
        for line in f:
            if first:
                line = line.removeprefix(BOM)
                first = False
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


def read_rows(path: Path) -> Iterator[NewSubscriber | BadRow | Duplicate]:
    """Every data row of the file, in order: a subscriber to upsert, a bad row or a duplicate."""
    shown = display_path(path)
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    check_utf8(path)
    reader = csv.reader(_lines(path), delimiter=sniff_delimiter(path), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError.at(path, 1, "the file is empty; expected a header row with an email column") from None
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    problems = []
    if "email" not in names:
        problems.append(Problem(shown, 1, f"no 'email' column in the header ({', '.join(names) or 'empty'})"))
    for i, name in enumerate(names):
        if not name:
            problems.append(Problem(shown, 1, f"column {i + 1} has no name"))
        elif name in names[:i]:
            problems.append(Problem(shown, 1, f"column '{name}' appears twice"))
    if problems:
        raise InputError(problems)

    seen = SeenKeys()
    try:
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            item = _check(shown, start, names, row, seen)
            if item is not None:
                yield item
    finally:
        seen.close()


def _check(shown: str, line: int, names: list[str], row: list[str], seen: SeenKeys):
    def bad(message: str) -> BadRow:
        return BadRow(Problem(shown, line, message))

    if not any(cell.strip() for cell in row):
        return bad("empty row")
    if len(row) > len(names) and any(cell.strip() for cell in row[len(names):]):
        return bad(f"{len(row)} fields, but the header has {len(names)}")
    for name, cell in zip(names, row):
        if len(cell) > MAX_FIELD:
            return bad(f"{name}: longer than {MAX_FIELD} characters")
    values = {name: _unprotect(cell).strip() for name, cell in zip(names, row)}
    try:
        email, key = normalize(values.pop("email", ""))
    except BadAddress as exc:
        return bad(str(exc))
    first = seen.get(key)
    if first is not None:
        return Duplicate(Problem(shown, line, f"{email} already on line {first}; skipped"))
    seen.add(key, line)
    name = values.pop("name", "")
    # The store's own state (an export writes it), never an attribute. An address that left stays
    # out: importing a provider's suppression export is how a publication moves here.
    status = values.pop("status", "").lower()
    lists = list(dict.fromkeys(part.strip() for part in values.pop("lists", "").split(";") if part.strip()))
    attributes = {k: v for k, v in values.items() if v}
    return NewSubscriber(email=email, key=key, name=name, lists=lists, attributes=attributes, line=line,
                         status=status if status in SUPPRESSED else None)
