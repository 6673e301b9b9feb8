"""Writing subscribers to CSV, safe to open in a spreadsheet.

A cell that starts with ``= + - @``, a tab or a carriage return would be run as a formula by
Excel or LibreOffice (CSV injection); such cells get a leading single quote. Import removes it
again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..store import Store
from .csvfile import FORMULA_START

COLUMNS = ("email", "name", "status", "lists")


def neutralize(value: object) -> str:
    """The cell as text, prefixed with ``'`` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(store: Store, out: Path, *, list_name: str | None = None) -> int:
    """Write ``email,name,status,lists`` plus one column per attribute; the number of rows written."""
    keys: dict[str, None] = {}
    for row in store.subscribers(list_name=list_name):  # first pass: the attribute columns
        keys.update(dict.fromkeys(k for k in row.attributes if k not in COLUMNS))
    extra = sorted(keys)
    count = 0
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, *(neutralize(k) for k in extra)])  # attribute names came from CSV headers
        for row in store.subscribers(list_name=list_name):
            cells = [row.email, row.name, row.status, ";".join(row.lists)]
            cells += [row.attributes.get(k, "") for k in extra]
            writer.writerow([neutralize(c) for c in cells])
            count += 1
    return count
