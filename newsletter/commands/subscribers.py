"""``newsletter subscribers …``: import, add, remove, list and export subscribers."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from ..errors import InputError, Problem, display_path
from ..store import (
    MAX_LIST_NAME,
    SUBSCRIBER_STATUSES,
    SUPPRESSED,
    NewSubscriber,
    SubscriberRow,
    UpsertCounts,
    database_url,
    fold_list_name,
    open_store,
)
from ..subscribers import BadAddress, ImportReport, addresses_in, export_csv, import_csv, normalize
from ..subscribers.csvfile import MAX_FIELD
from ..subscribers.export import ExistingFile
from .lists import require_list


def import_file(
    path: Path, settings: Settings, *, lists: list[str], status: str, force: bool, dry_run: bool
) -> ImportReport:
    """Import a CSV file (see :func:`newsletter.subscribers.import_csv`)."""
    path = path if path.is_absolute() or path.exists() else settings.subscribers_dir / path
    lists = _list_names(lists)
    with open_store(settings) as store:
        return import_csv(path, store, lists=lists, status=status, force=force, dry_run=dry_run)


def add(email: str, settings: Settings, *, name: str, lists: list[str]) -> UpsertCounts:
    """Add (or update) one confirmed subscriber; a suppressed address is kept out."""
    address, key = _address(email)
    name = " ".join(name.split())
    if len(name) > MAX_FIELD:
        raise InputError([Problem("--name", None, f"{len(name):,} characters, at most {MAX_FIELD:,}")])
    if _has_control(name):
        raise InputError([Problem("--name", None, "holds a control character")])
    lists = _list_names(lists)
    with open_store(settings) as store:
        row = NewSubscriber(email=address, key=key, name=name, lists=[])
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


def export(out: Path, settings: Settings, *, list_name: str | None, force: bool = False) -> int:
    """Write subscribers to a CSV file; the number of rows written. Never over the store itself,
    and over another existing file only with ``force``."""
    _refuse_store_files(out, settings)
    with open_store(settings) as store:
        if list_name is not None:
            require_list(store, list_name, "--list")
        try:
            return export_csv(store, out, list_name=list_name, force=force)
        except ExistingFile:
            raise InputError.at(out, None, "already exists: use --force to replace it") from None
        except OSError as exc:
            raise InputError.at(out, None, f"cannot write: {exc.strerror or exc}") from None


def _refuse_store_files(out: Path, settings: Settings) -> None:
    """An export over the SQLite store, its -wal, -shm or -journal file or its lock files would
    destroy it (or break its locks): refused, however the path is spelled (symlinks, hard links)."""
    url = database_url(settings)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    database = Path(url.database).resolve()
    target = out.resolve()
    store_names = {database.name + suffix for suffix in ("", "-wal", "-shm", "-journal", ".migrate.lock")}
    named_like_it = target.parent == database.parent and (
        target.name in store_names or target.name.startswith(f"{database.name}.send-"))
    if named_like_it or any(_same_file(target, f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")):
        raise InputError([Problem(str(out), None, f"this is the subscriber store ({display_path(database)}) or one "
                                                  "of its files: an export here would destroy it; choose another file name")])


def _same_file(a: Path, b: str) -> bool:
    """Whether two paths are one file (a hard link is): False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _list_names(names: list[str]) -> list[str]:
    """``--list`` values as the store names lists (lowercase), each checked."""
    folded = [fold_list_name(name) for name in names if name.strip()]
    for name in folded:
        if len(name) > MAX_LIST_NAME or _has_control(name):
            raise InputError([Problem("--list", None, f"a list name is at most {MAX_LIST_NAME} characters, "
                                                      "without control characters")])
    return folded


def _address(email: str, *, check: bool = True) -> tuple[str, str]:
    try:
        return normalize(email)
    except BadAddress as exc:
        if not check and email.strip():
            return email.strip(), email.strip().lower()
        raise InputError([Problem("email", None, str(exc))]) from None
