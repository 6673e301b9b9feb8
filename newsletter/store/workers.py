"""The send workers' side of the store (PostgreSQL only): registry and leases, mailings, fleet
claims and the shared rate budget. Every SQL statement the workers run lives here.

Leases run on the database's clock (``now()``), so machines with skewed clocks agree on who is
alive. A worker renews its lease with a heartbeat; a claim takes a key-share lock on the worker's
own row first, so a reaper (any worker, or ``send --workers``) can never declare it dead between
checking the lease and claiming: the reaper's ``DELETE`` waits for the claim to commit, and a
worker whose row is gone finds out at its next heartbeat or claim and stops. The reaper turns the
dead worker's ``sending`` rows into ``in_doubt`` in the same transaction, exactly as a plain
``send`` does with the rows a crash left behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Engine, text

from .ledger import Claimed

IN_DOUBT_NOTE = "its send worker died (lease expired) between handing to the provider and recording the result"


@dataclass(frozen=True)
class ActiveMailing:
    issue_id: str
    issue: str
    digest: str
    started_at: object
    state: str


class Fleet:
    """Worker registry, mailings, claims and the rate budget on one PostgreSQL engine."""

    def __init__(self, engine: Engine, lease: float = 30.0):
        self.engine = engine
        self.lease = lease

    # --- registry and leases --------------------------------------------------------------

    def register(self, host: str, pid: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(text(
                "INSERT INTO workers (host, pid, started_at, lease_until, in_flight, sent, rate) "
                "VALUES (:host, :pid, now(), now() + make_interval(secs => :lease), 0, 0, 0) RETURNING id"),
                {"host": host[:255], "pid": pid, "lease": self.lease}).scalar_one()

    def heartbeat(self, worker_id: int, issue_id: str | None, in_flight: int, sent: int, rate: float) -> bool:
        """Renew the lease; False when it had already expired (the worker was declared dead)."""
        with self.engine.begin() as conn:
            return conn.execute(text(
                "UPDATE workers SET lease_until = now() + make_interval(secs => :lease), issue_id = :issue, "
                "in_flight = :in_flight, sent = :sent, rate = :rate WHERE id = :id AND lease_until > now() RETURNING id"),
                {"lease": self.lease, "issue": issue_id, "in_flight": in_flight, "sent": sent, "rate": rate,
                 "id": worker_id}).first() is not None

    def deregister(self, worker_id: int) -> None:
        """A graceful exit: nothing of this worker is left ``sending``."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM workers WHERE id = :id"), {"id": worker_id})

    def live(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, host, pid, started_at, lease_until, issue_id, in_flight, sent, rate, "
                "lease_until > now() AS alive FROM workers ORDER BY id")).mappings().all()
        return [dict(r) for r in rows]

    def reap(self) -> dict[str, int]:
        """Workers whose lease expired are dead: their ``sending`` rows become ``in_doubt`` (never
        resent silently) and their registry rows go. Returns the rows put in doubt, per issue."""
        with self.engine.begin() as conn:
            dead = conn.execute(text(
                "DELETE FROM workers WHERE id IN (SELECT id FROM workers WHERE lease_until < now() "
                "FOR UPDATE SKIP LOCKED) RETURNING id")).scalars().all()
            if not dead:
                return {}
            rows = conn.execute(text(
                "UPDATE deliveries SET status = 'in_doubt', last_error = :note "
                "WHERE issue_id IN (SELECT issue_id FROM mailings) AND status = 'sending' "
                "AND worker_id = ANY(:dead) RETURNING issue_id"), {"note": IN_DOUBT_NOTE, "dead": list(dead)}).scalars().all()
            found: dict[str, int] = {}
            for issue_id in rows:
                found[issue_id] = found.get(issue_id, 0) + 1
            for issue_id, n in found.items():
                conn.execute(text("UPDATE mailings SET in_doubt = in_doubt + :n WHERE issue_id = :i"),
                             {"n": n, "i": issue_id})
        return found

    def busy_with(self, issue_id: str) -> bool:
        """Whether live workers are sending the issue: they hold rows of it, or its mailing is
        still on (a ``send --workers`` that was killed leaves it on, and the workers drain it)."""
        self.reap()
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM workers WHERE lease_until > now()) AND ("
                "EXISTS (SELECT 1 FROM mailings WHERE issue_id = :i AND state IN ('planning', 'sending')) OR "
                "EXISTS (SELECT 1 FROM deliveries WHERE issue_id = :i AND status = 'sending' "
                "AND worker_id IN (SELECT id FROM workers)))"), {"i": issue_id}).scalar()

    # --- mailings -------------------------------------------------------------------------

    def active(self) -> list[ActiveMailing]:
        """Mailings being sent (or planned, for workers to render them ahead), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT issue_id, issue, digest, started_at, state FROM mailings WHERE state IN ('planning', 'sending') "
                "ORDER BY started_at, issue_id")).all()
        return [ActiveMailing(*row) for row in rows]

    def mailing(self, issue_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM mailings WHERE issue_id = :i"), {"i": issue_id}).mappings().first()
        return dict(row) if row else None

    def hold(self, issue_id: str, issue: str, digest: str) -> None:
        """``planning``: workers claim nothing more of the issue while ``send --workers`` plans it."""
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO mailings (issue_id, issue, digest, state) VALUES (:i, :issue, :digest, 'planning') "
                "ON CONFLICT (issue_id) DO UPDATE SET issue = :issue, digest = :digest, state = 'planning', reason = NULL"),
                {"i": issue_id, "issue": issue, "digest": digest})

    def unhold(self, issue_id: str, reason: str) -> None:
        """A ``send --workers`` that failed while planning: the issue is not left on hold (workers
        would never drain it, and a plain ``send`` would take it for theirs)."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE mailings SET state = 'stopped', reason = :r WHERE issue_id = :i "
                              "AND state = 'planning'"), {"r": reason[:2000], "i": issue_id})

    def start(self, issue_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE mailings SET state = 'sending', reason = NULL, started_at = now(), finished_at = NULL, "
                "sent = 0, failed = 0, skipped = 0, in_doubt = 0, calls = 0 WHERE issue_id = :i"), {"i": issue_id})

    def stop(self, issue_id: str, reason: str) -> bool:
        """No worker claims more of it; True if it was being sent."""
        with self.engine.begin() as conn:
            return conn.execute(text(
                "UPDATE mailings SET state = 'stopped', reason = :r WHERE issue_id = :i AND state = 'sending' "
                "RETURNING issue_id"), {"r": reason[:2000], "i": issue_id}).first() is not None

    def finish(self, issue_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE mailings SET state = 'done', finished_at = now() WHERE issue_id = :i"),
                         {"i": issue_id})

    def add_counts(self, issue_id: str, sent: int, failed: int, skipped: int, in_doubt: int, calls: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE mailings SET sent = sent + :s, failed = failed + :f, skipped = skipped + :k, "
                "in_doubt = in_doubt + :d, calls = calls + :c WHERE issue_id = :i"),
                {"s": sent, "f": failed, "k": skipped, "d": in_doubt, "c": calls, "i": issue_id})

    def unfinished(self, issue_id: str) -> bool:
        """Rows still queued or sending (one snapshot: a row requeued meanwhile is not missed)."""
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE issue_id = :i AND status IN ('queued', 'sending'))"),
                {"i": issue_id}).scalar()

    def in_flight(self, issue_id: str) -> int:
        """The issue's rows that live workers hold ``sending`` (reap first)."""
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM deliveries WHERE issue_id = :i AND status = 'sending' "
                "AND worker_id IN (SELECT id FROM workers)"), {"i": issue_id}).scalar()

    # --- claims ---------------------------------------------------------------------------

    def claim(self, worker_id: int, issue_id: str, limit: int, after: int = 0) -> list[Claimed] | None:
        """Mark up to ``limit`` queued rows of the issue ``sending`` for this worker and commit,
        before anything is sent; None when the worker's lease is gone (it must stop).

        ``FOR UPDATE SKIP LOCKED``: workers claiming at once get different rows. ``after`` is the
        worker's keyset, as in :meth:`Ledger.claim`.
        """
        with self.engine.begin() as conn:
            alive = conn.execute(text(
                "SELECT id FROM workers WHERE id = :w AND lease_until > now() FOR KEY SHARE"), {"w": worker_id}).first()
            if alive is None:
                return None
            # Only while its mailing is on; the share lock makes ``hold`` (send --workers planning it
            # again) wait for this claim, so that it sees these rows in flight.
            if conn.execute(text("SELECT 1 FROM mailings WHERE issue_id = :i AND state = 'sending' FOR SHARE"),
                            {"i": issue_id}).first() is None:
                return []
            rows = conn.execute(text(
                "WITH picked AS (SELECT id FROM deliveries WHERE issue_id = :i AND status = 'queued' AND id > :after "
                "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED), "
                "claimed AS (UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, updated_at = now(), "
                "worker_id = :w FROM picked WHERE d.id = picked.id RETURNING d.id, d.subscriber_id, d.email) "
                "SELECT c.id, c.subscriber_id, c.email, s.name, s.status FROM claimed c "
                "LEFT JOIN subscribers s ON s.id = c.subscriber_id ORDER BY c.id"),
                {"i": issue_id, "after": after, "n": limit, "w": worker_id}).all()
        return [Claimed(delivery_id=r[0], subscriber_id=r[1], email=r[2] or "", name=r[3] or "", subscriber_status=r[4])
                for r in rows]

    # --- the shared rate budget -----------------------------------------------------------

    def take(self, n: int, rate: float) -> float:
        """Take ``n`` messages from the fleet's budget: 0.0 when granted, else seconds to wait.

        A token bucket in one row, refilled at ``rate`` per second up to one second's worth
        (at least ``n``): a grant and its refill are one atomic UPDATE on the database's clock.
        """
        capacity = float(max(math.ceil(rate), n))
        refill = "LEAST(:cap, tokens + EXTRACT(EPOCH FROM (clock_timestamp() - updated_at))::float8 * :rate)"
        with self.engine.begin() as conn:
            conn.execute(text("INSERT INTO rate_budget (id, tokens, updated_at, granted) VALUES (1, :cap, clock_timestamp(), 0) "
                              "ON CONFLICT (id) DO NOTHING"), {"cap": capacity})
            granted = conn.execute(text(
                f"UPDATE rate_budget SET tokens = {refill} - :n, updated_at = clock_timestamp(), granted = granted + :n, "
                f"first_grant = COALESCE(first_grant, clock_timestamp()) WHERE id = 1 AND {refill} >= :n RETURNING id"),
                {"cap": capacity, "rate": rate, "n": n}).first()
            if granted is not None:
                return 0.0
            short = conn.execute(text(f"SELECT :n - {refill} FROM rate_budget WHERE id = 1"),
                                 {"cap": capacity, "rate": rate, "n": n}).scalar()
        return max(0.005, float(short or 0) / rate)

    def refund(self, n: int) -> None:
        """Messages taken but not sent (fewer rows to claim than taken) go back to the budget."""
        if n > 0:
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE rate_budget SET tokens = tokens + :n, granted = granted - :n WHERE id = 1"),
                             {"n": n})

    def budget(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT tokens, granted, first_grant, updated_at, "
                "EXTRACT(EPOCH FROM (updated_at - first_grant))::float8 AS span FROM rate_budget WHERE id = 1")).mappings().first()
        return dict(row) if row else None
