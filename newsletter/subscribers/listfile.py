"""Reading a list of addresses: one per line, or the ``email`` column of a CSV file.

What ``subscribers unsubscribe --file`` reads: a hand-made list, or a provider's suppression
export (SendGrid, Mailchimp and listmonk all export a CSV with an ``email`` column).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from .csvfile import DELIMITERS, _lines, check_utf8, csv_reason, sniff_delimiter


def addresses_in(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every address in the file, in order; blank lines and ``#`` comments skipped."""
    if not path.is_file():
        raise InputError.at(path, None, "file not found")
    check_utf8(path)
    header = next((line for line in _lines(path) if line.strip()), "")
    cells = [cell.strip().strip('"').lower() for cell in _split(header)]
    if "email" in cells:
        reader = csv.reader(_lines(path), delimiter=sniff_delimiter(path))
        column = None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a cell over 128 KB: the file is not the list it claims to be
                raise InputError.at(path, reader.line_num, csv_reason(exc)) from None
            if column is None:
                if any(cell.strip() for cell in row):
                    column = [cell.strip().lower() for cell in row].index("email")
                continue
            if len(row) > column and row[column].strip():
                yield reader.line_num, row[column].strip()
    for number, line in enumerate(_lines(path), start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, text


def _split(line: str) -> list[str]:
    for delimiter in DELIMITERS:
        if delimiter in line:
            return line.split(delimiter)
    return [line]
