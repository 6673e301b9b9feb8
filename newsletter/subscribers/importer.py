"""Importing a subscribers CSV into the store, in batches that each commit.

Re-importing a file changes nothing (an upsert). A suppressed address (unsubscribed, bounced,
complained) stays as it is unless ``force``. Each batch is one transaction, so a failure part-way
leaves whole batches behind it, and running the import again continues where it stopped.

The file streams through: a batch of rows is read and checked, then written with a few set-based
statements (:meth:`~newsletter.store.Store.upsert_subscribers`), so memory does not grow with the
file and the store is asked a handful of questions per batch, not one per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ..errors import NewsletterError, Problem, display_path
from ..store import NewSubscriber, Store, UpsertCounts, fold_list_name
from .csvfile import BadRow, Duplicate, read_batches

#: Rows read, checked and written per transaction.
BATCH = 10_000
#: Problems kept for the report; beyond this only counted.
MAX_PROBLEMS = 1000
IMPORT_STATUSES = ("confirmed", "pending")


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    path: str
    dry_run: bool = False
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    bad: int = 0
    duplicates: int = 0
    #: Bad rows (these make the import exit 1).
    problems: list[Problem] = field(default_factory=list)
    #: Duplicates and other remarks that are not errors.
    notes: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{self.path}: {verb}: {c.added} added, {c.updated} updated, {c.unchanged} unchanged, "
            f"{self.bad} bad, {c.kept_out} kept out (unsubscribed, bounced, complained or removed)"
            + (f", {c.suppressed} marked as gone by their status column" if c.suppressed else "")
            + (f", {self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}" if self.duplicates else "")
        )


def import_csv(
    path: Path,
    store: Store,
    *,
    lists: list[str] | tuple[str, ...] = (),
    status: str = "confirmed",
    force: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH,
) -> ImportReport:
    """Upsert every good row of the file; bad rows are reported, never imported."""
    if status not in IMPORT_STATUSES:
        raise NewsletterError([Problem("--status", None, f"{status!r} is not one of {', '.join(IMPORT_STATUSES)}")])
    lists = [fold_list_name(name) for name in lists if name.strip()]
    report = ImportReport(display_path(path), dry_run=dry_run)
    source = f"import:{path.name}"[:200]  # the column holds 200 characters; a file name may be longer
    batch: list[NewSubscriber] = []
    next_analyze = batch_size

    def flush() -> None:
        nonlocal next_analyze
        if not batch:
            return
        try:
            report.counts += store.upsert_subscribers(
                batch, status=status, lists=lists, force=force, source=source, commit=not dry_run
            )
            if not dry_run and report.counts.added >= next_analyze:
                store.refresh_statistics()  # each time the table has doubled
                next_analyze = report.counts.added * 2
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            done = f"rows before line {batch[0].line} are imported; run the import again to continue"
            raise NewsletterError([Problem(report.path, batch[0].line, f"database error: {reason}; {done}")]) from None
        batch.clear()

    for items in read_batches(path, batch_size):
        for item in items:
            if type(item) is NewSubscriber:
                batch.append(item)
            elif isinstance(item, BadRow):
                report.bad += 1
                if len(report.problems) < MAX_PROBLEMS:
                    report.problems.append(item.problem)
            elif isinstance(item, Duplicate):
                report.duplicates += 1
                if len(report.notes) < MAX_PROBLEMS:
                    report.notes.append(item.problem)
        flush()
    return report
