"""``newsletter worker`` and ``newsletter workers``: a send worker in the foreground, and the fleet."""

from __future__ import annotations

import datetime as dt
import threading

from ..config import Settings


def run_worker(settings: Settings, in_flight: int | None, log) -> int:
    """Run until SIGTERM or Ctrl-C (graceful: exit 143 or 130); 1 when the worker lost its database."""
    from ..workers import WorkerLost
    from ..workers import run_worker as run
    from .signals import exit_code, graceful

    stop = threading.Event()

    def first(signum: int) -> None:
        log("stopping: no new batch is claimed; the batches in flight finish and are recorded "
            "(a second signal stops at once)")

    with graceful(stop, on_first=first) as received:
        try:
            stats = run(settings, in_flight, stop=stop, log=log)
        except WorkerLost as exc:
            for line in exc.lines():
                log(line)
            return exc.exit_code
    log(f"stopped: {stats.sent} sent in {stats.batches} batches")
    return exit_code(received["signal"]) if "signal" in received else 0


def workers(settings: Settings) -> list[dict]:
    """The registered workers (live ones, and dead ones not yet reaped), JSON-ready."""
    from ..store.workers import Fleet
    from ..workers.worker import fleet_engine

    engine = fleet_engine(settings, "workers")
    try:
        rows = Fleet(engine).live()
    finally:
        engine.dispose()
    return [{
        "id": r["id"], "host": r["host"], "pid": r["pid"], "alive": bool(r["alive"]),
        "started": _iso(r["started_at"]), "lease_until": _iso(r["lease_until"]), "issue": r["issue_id"],
        "in_flight": r["in_flight"], "sent": int(r["sent"]), "rate": round(float(r["rate"]), 1),
    } for r in rows]


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds") if value else None
