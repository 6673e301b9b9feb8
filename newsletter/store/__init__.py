"""The subscriber store: subscribers, lists, memberships and the delivery ledger.

SQLite by default (``newsletter.db`` in the publication folder), PostgreSQL through a
``postgresql+psycopg://`` URL. :func:`open_store` connects and migrates on first use; only
:class:`Store` holds queries (and :mod:`.peek`, a read-only look at a SQLite store for ``check``).

The names below load on first use (PEP 562), so that a module of this package that needs no
SQLAlchemy (``names``, ``peek``) costs none: ``check`` runs on every save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names
from .names import MAX_LIST_NAME, fold_list_name

if TYPE_CHECKING:
    from ..config import Settings
    from .consent import Signup
    from .engine import connect, database_url, shown, upgrade
    from .models import SUBSCRIBER_STATUSES, SUPPRESSED
    from .store import NewSubscriber, Store, SubscriberRow, UpsertCounts
    from .suppression import AddressHash

__getattr__ = lazy_names(__name__, {
    "connect": "engine", "database_url": "engine", "shown": "engine", "upgrade": "engine",
    "Signup": "consent",
    "SUBSCRIBER_STATUSES": "models", "SUPPRESSED": "models",
    "NewSubscriber": "store", "Store": "store", "SubscriberRow": "store", "UpsertCounts": "store",
    "AddressHash": "suppression",
})


def open_store(settings: "Settings", *, migrate: bool = True) -> "Store":
    """The publication's store, its schema brought up to date."""
    from .engine import connect
    from .store import Store
    from .suppression import AddressHash

    return Store(connect(settings, migrate=migrate), AddressHash.for_settings(settings))


__all__ = [
    "MAX_LIST_NAME", "SUBSCRIBER_STATUSES", "SUPPRESSED", "AddressHash", "NewSubscriber", "Signup", "Store",
    "SubscriberRow", "UpsertCounts",
    "connect", "database_url", "fold_list_name", "open_store", "shown", "upgrade",
]
