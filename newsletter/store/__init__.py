"""The subscriber store: subscribers, lists, memberships and the delivery ledger.

SQLite by default (``newsletter.db`` in the publication folder), PostgreSQL through a
``postgresql+psycopg://`` URL. :func:`open_store` connects and migrates on first use; only
:class:`Store` holds queries.
"""

from __future__ import annotations

from ..config import Settings
from .engine import connect, database_url, shown, upgrade
from .consent import Signup
from .models import MAX_LIST_NAME, SUBSCRIBER_STATUSES, SUPPRESSED, fold_list_name
from .store import NewSubscriber, Store, SubscriberRow, UpsertCounts
from .suppression import AddressHash


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The publication's store, its schema brought up to date."""
    return Store(connect(settings, migrate=migrate), AddressHash.for_settings(settings))


__all__ = [
    "MAX_LIST_NAME", "SUBSCRIBER_STATUSES", "SUPPRESSED", "AddressHash", "NewSubscriber", "Signup", "Store",
    "SubscriberRow", "UpsertCounts",
    "connect", "database_url", "fold_list_name", "open_store", "shown", "upgrade",
]
