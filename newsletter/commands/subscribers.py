"""``newsletter subscribers …``: import, add, remove, list and export subscribers."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import InputError, Problem, display_path
from ..store import SUBSCRIBER_STATUSES, SUPPRESSED, NewSubscriber, SubscriberRow, UpsertCounts, open_store
from ..subscribers import BadAddress, ImportReport, addresses_in, export_csv, import_csv, normalize
from .lists import require_list


def import_file(
    path: Path, settings: Settings, *, lists: list[str], status: str, force: bool, dry_run: bool
) -> ImportReport:
    """Import a CSV file (see :func:`newsletter.subscribers.import_csv`)."""
    path = path if path.is_absolute() or path.exists() else settings.subscribers_dir / path
    with open_store(settings) as store:
        return import_csv(path, store, lists=lists, status=status, force=force, dry_run=dry_run)


def add(email: str, settings: Settings, *, name: str, lists: list[str]) -> UpsertCounts:
    """Add (or update) one confirmed subscriber; a suppressed address is kept out."""
    address, key = _address(email)
    with open_store(settings) as store:
        row = NewSubscriber(email=address, key=key, name=name.strip(), lists=[])
        return store.upsert_subscribers([row], lists=lists, source="cli")


def remove(email: str, settings: Settings) -> bool:
    """Erase a subscriber: their row and memberships go, their ledger rows lose the address."""
    _, key = _address(email, check=False)
    with open_store(settings) as store:
        return store.erase_subscriber(key)


def unsubscribe(emails: list[str], settings: Settings, *, file: Path | None = None,
                status: str = "unsubscribed") -> tuple[dict[str, int], list[Problem]]:
    """Unsubscribe addresses given one by one or in a file (one per line, or a CSV with an
    ``email`` column, such as a provider's suppression export). Unknown addresses go on the
    suppression list too. Returns the counts and the lines that are not addresses."""
    if status not in SUPPRESSED:
        raise InputError([Problem("--status", None, f"{status!r} is not one of {', '.join(SUPPRESSED)}")])
    keys: list[str] = []
    problems: list[Problem] = []
    for email in emails:
        keys.append(_address(email, check=False)[1])
    if file is not None:
        for where, text in addresses_in(file):
            try:
                keys.append(normalize(text)[1])
            except BadAddress as exc:
                problems.append(Problem(display_path(file), where, str(exc)))
    with open_store(settings) as store:
        return store.suppress(keys, reason=status, source=f"cli:{file.name}" if file else "cli"), problems


def list_subscribers(settings: Settings, *, list_name: str | None, status: str | None) -> list[SubscriberRow]:
    """Subscribers, optionally of one list and one status."""
    if status and status not in SUBSCRIBER_STATUSES:
        raise InputError([Problem("--status", None, f"{status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")])
    with open_store(settings) as store:
        if list_name is not None:
            require_list(store, list_name, "--list")
        return list(store.subscribers(list_name=list_name, status=status))


def export(out: Path, settings: Settings, *, list_name: str | None) -> int:
    """Write subscribers to a CSV file; the number of rows written."""
    with open_store(settings) as store:
        if list_name is not None:
            require_list(store, list_name, "--list")
        try:
            return export_csv(store, out, list_name=list_name)
        except OSError as exc:
            raise InputError.at(out, None, f"cannot write: {exc.strerror or exc}") from None


def _address(email: str, *, check: bool = True) -> tuple[str, str]:
    try:
        return normalize(email)
    except BadAddress as exc:
        if not check and email.strip():
            return email.strip(), email.strip().lower()
        raise InputError([Problem("email", None, str(exc))]) from None
