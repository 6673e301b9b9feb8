"""The suppression list: addresses that left, remembered by a keyed hash that outlives their row.

A subscriber who unsubscribes, bounces or complains keeps their row (status tells why); one who is
erased (``subscribers remove``) loses it. Either way the keyed hash of the address goes into
``suppressions``, and every way in (import, ``add``, the subscribe form) looks there first: only a
new double opt-in, or an import with ``--force``, lifts it.

The hash is HMAC-SHA256 of the lowercased address under a key derived from the publication's
secret key (``NEWSLETTER_SECRET_KEY`` or ``.secret_key``), cut to 128 bits: without the key, a
leaked database does not tell whether a given address was ever on the list. Changing the secret
key therefore forgets the list (and invalidates every link already sent).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from functools import cached_property

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import HASH_LENGTH, Suppression, utcnow

T = Suppression.__table__


class AddressHash:
    """``hash(email_key)`` → 32 hex characters; the key is read only when first needed."""

    def __init__(self, secret: bytes | Callable[[], bytes]):
        self._secret = secret

    @classmethod
    def for_settings(cls, settings) -> "AddressHash":
        from ..tokens import secret_key

        return cls(lambda: secret_key(settings))

    @cached_property
    def _key(self) -> bytes:
        secret = self._secret() if callable(self._secret) else self._secret
        return hmac.digest(secret, b"newsletter.address-hash", "sha256")

    def __call__(self, email_key: str) -> str:
        digest = hmac.digest(self._key, email_key.lower().encode("utf-8"), "sha256")
        return digest.hex()[:HASH_LENGTH]


def add_suppressions(conn: Connection, entries: Iterable[tuple[str, str]], source: str) -> None:
    """(hash, reason) pairs onto the list; an address already there keeps its first reason."""
    rows = [{"email_hash": h, "reason": reason, "source": source[:200], "created_at": utcnow()}
            for h, reason in dict(entries).items()]
    if not rows:
        return
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(T).on_conflict_do_nothing(index_elements=["email_hash"]), rows)


def lift_suppressions(conn: Connection, hashes: Iterable[str]) -> None:
    """Take addresses off the list (a confirmed double opt-in, or an import with ``--force``)."""
    hashes = list(hashes)
    for start in range(0, len(hashes), 500):
        conn.execute(delete(T).where(T.c.email_hash.in_(hashes[start:start + 500])))
