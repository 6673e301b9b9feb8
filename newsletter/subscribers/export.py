"""Writing subscribers to CSV, safe to open in a spreadsheet and faithful as a backup.

A cell that starts with ``= + - @``, a tab or a carriage return would be run as a formula by
Excel or LibreOffice (CSV injection); such cells get a leading single quote. Import removes it
again, so an export imports back unchanged: with each subscriber's status and consent times
(``confirmed_at``, ``unsubscribed_at``), so someone who left stays out after a restore.

The file is written beside its destination and moved into place when complete: an export that
fails part-way leaves the old file as it was. Without ``force`` an existing file is never replaced.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from pathlib import Path

from ..store import Store
from .csvfile import FORMULA_START, TIME_COLUMNS

COLUMNS = ("email", "name", "status", "lists", *TIME_COLUMNS)


class ExistingFile(FileExistsError):
    """The destination exists and overwriting was not asked for."""


def neutralize(value: object) -> str:
    """The cell as text, prefixed with ``'`` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _mode(target: Path) -> int:
    """The permissions the file would get if written in place: the old file's, or the default."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _time(value: dt.datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def export_csv(store: Store, out: Path, *, list_name: str | None = None, force: bool = False) -> int:
    """Write the columns :data:`COLUMNS` plus one per attribute; the number of rows written.
    Raises :class:`ExistingFile` when ``out`` exists and ``force`` is not given."""
    if not force and os.path.lexists(out):
        raise ExistingFile(str(out))
    keys: dict[str, None] = {}
    for row in store.subscribers(list_name=list_name):  # first pass: the attribute columns
        keys.update(dict.fromkeys(k for k in row.attributes if k not in COLUMNS))
    extra = sorted(keys)
    target = out.resolve()  # through a symlink: the file it points at is what gets replaced
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*COLUMNS, *(neutralize(k) for k in extra)])  # attribute names came from CSV headers
            for row in store.subscribers(list_name=list_name):
                cells = [row.email, row.name, row.status, ";".join(row.lists),
                         _time(row.confirmed_at), _time(row.unsubscribed_at)]
                cells += [row.attributes.get(k, "") for k in extra]
                writer.writerow([neutralize(c) for c in cells])
                count += 1
        os.chmod(temporary, _mode(target))
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # fails if a file appeared meanwhile: never replaced silently
    except FileExistsError:
        raise ExistingFile(str(out)) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count
