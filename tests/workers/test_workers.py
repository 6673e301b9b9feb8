"""Send workers as real processes on one PostgreSQL database, through the SendGrid stand-in.

Invariants only (the machine is busy): nobody gets two copies, every recipient ends ``sent`` or
``in_doubt``, a killed worker's rows in flight become ``in_doubt`` once its lease expires and
nothing else does, a worker that loses its database stops, and the fleet's rate budget holds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

from newsletter.store.workers import IN_DOUBT_NOTE

from ..conftest import run_cli
from .conftest import ISSUE, query, seed, settings_text, wait_for


def ledger(settings) -> dict[str, int]:
    return dict(query(settings, "SELECT status, count(*) FROM deliveries WHERE issue_id = :i GROUP BY status", i=ISSUE))


def worker_id(settings, pid: int) -> int | None:
    rows = query(settings, "SELECT id FROM workers WHERE pid = :p", p=pid)
    return rows[0][0] if rows else None


def assert_exactly_once(settings, standin, n: int) -> dict[str, int]:
    counts = ledger(settings)
    assert set(counts) <= {"sent", "in_doubt"} and sum(counts.values()) == n, counts
    copies = Counter(standin.emails)
    assert not copies or max(copies.values()) == 1, "somebody got two copies"
    doubtful = {r[0] for r in query(settings, "SELECT email FROM deliveries WHERE issue_id = :i AND status = 'in_doubt'",
                                    i=ISSUE)}
    assert set(copies) | doubtful == {f"r{i}@example.com" for i in range(n)}, "somebody was lost"
    sent = {r[0] for r in query(settings, "SELECT email FROM deliveries WHERE issue_id = :i AND status = 'sent'", i=ISSUE)}
    assert sent <= set(copies), "a row is sent that the provider never got"
    return counts


def test_three_workers_one_killed_nobody_twice_and_its_rows_in_doubt(pg_settings, fleet, standin):
    n = 12000
    seed(pg_settings, n)
    standin.delay = 1.0  # a batch stays in flight long enough to be caught there
    workers = [fleet.worker() for _ in range(3)]
    victim = workers[1]
    victim_id = wait_for(lambda: all(worker_id(pg_settings, p.pid) for p in workers) and worker_id(pg_settings, victim.pid),
                         what="the workers to register")
    listed = json.loads(run_cli("workers", "--json", cwd=fleet.publication).stdout)
    assert {w["pid"] for w in listed if w["alive"]} == {p.pid for p in workers}
    send = fleet.send()
    wait_for(lambda: query(pg_settings, "SELECT 1 FROM deliveries WHERE worker_id = :w AND status = 'sending'",
                           w=victim_id), every=0.05, what="the victim to have a batch in flight")
    victim.send_signal(signal.SIGKILL)
    victim.wait(60)
    # Dead now: its claimed rows stay as they are until its lease expires, then become in doubt.
    held = {r[0] for r in query(pg_settings, "SELECT id FROM deliveries WHERE worker_id = :w "
                                             "AND status IN ('sending', 'in_doubt')", w=victim_id)}
    assert held, "the victim had nothing in flight"

    assert send.wait(300) == 1, fleet.log(send)  # 1: some deliveries are in doubt
    for process in (workers[0], workers[2]):
        assert fleet.stop(process) == 143, fleet.log(process)
        assert "Traceback" not in fleet.log(process)
    assert "Traceback" not in fleet.log(send)

    counts = assert_exactly_once(pg_settings, standin, n)
    doubtful = query(pg_settings, "SELECT id, worker_id, last_error FROM deliveries WHERE status = 'in_doubt'")
    assert {r[0] for r in doubtful} == held, "exactly the killed worker's rows in flight are in doubt"
    assert all(r[1] == victim_id and r[2] == IN_DOUBT_NOTE for r in doubtful)
    assert counts["in_doubt"] == len(held)
    assert not query(pg_settings, "SELECT 1 FROM workers"), "the dead worker was reaped, the others deregistered"
    assert query(pg_settings, "SELECT state FROM mailings WHERE issue_id = :i", i=ISSUE)[0][0] == "done"
    assert f"{counts['in_doubt']} in_doubt" in fleet.out(send)


def test_a_worker_that_loses_its_database_stops(pg_settings, fleet, standin):
    n = 4000
    seed(pg_settings, n)
    standin.delay = 0.5
    lost = fleet.worker()
    send = fleet.send()
    wid = wait_for(lambda: worker_id(pg_settings, lost.pid), what="the worker to register")
    wait_for(lambda: query(pg_settings, "SELECT 1 FROM deliveries WHERE worker_id = :w AND status = 'sending'", w=wid),
             what="a batch in flight")
    # Only this worker's connections: other tests and benches may share the server.
    query(pg_settings, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE :name",
          name=f"newsletter worker % pid {lost.pid}")
    assert lost.wait(120) == 1, fleet.log(lost)
    log = fleet.log(lost)
    assert "lost the database connection" in log and "Traceback" not in log, log
    # Another worker finishes the mailing; whatever the lost one could not record is in doubt.
    rescuer = fleet.worker()
    assert send.wait(300) in (0, 1), fleet.log(send)
    assert fleet.stop(rescuer) == 143
    counts = assert_exactly_once(pg_settings, standin, n)
    assert counts.get("sent", 0) > 0


def test_the_rate_budget_is_shared_by_the_fleet(pg_settings, fleet, standin, publication):
    n, rate = 1200, 200
    settings_text(publication, rate_limit=rate)
    seed(pg_settings, n)
    workers = [fleet.worker(), fleet.worker()]
    send = fleet.send()
    assert send.wait(300) == 0, fleet.log(send)
    for process in workers:
        assert fleet.stop(process) == 143
    assert_exactly_once(pg_settings, standin, n)
    assert max(standin.sizes) <= rate, "a batch is at most one second of the budget"
    (tokens, granted, span), = query(pg_settings, "SELECT tokens, granted, EXTRACT(EPOCH FROM (updated_at - first_grant))"
                                                  "::float8 FROM rate_budget")
    assert granted == standin.accepted_recipients == n, "every message went through the one budget"
    # A token bucket of one second (rate tokens) refilled at rate/s: never more than that, whoever took them.
    assert granted <= rate + rate * span + 1e-6


def test_sqlite_is_refused(publication):
    for args in (["send", ISSUE, "--workers", "--now"], ["worker"], ["workers"]):
        result = run_cli(*args, cwd=publication)
        assert result.returncode == 2, result
        assert "send workers need PostgreSQL" in result.stderr and "Traceback" not in result.stderr


def test_a_plain_send_leaves_an_issue_the_workers_are_sending_to_them(pg_settings, fleet, standin):
    """A killed ``send --workers`` leaves its mailing on and the workers go on with it: a plain
    ``send`` then would turn their batches in flight into doubt. It refuses; following the
    mailing again with ``send --workers`` finishes it."""
    n = 6000
    seed(pg_settings, n)
    standin.delay = 0.5
    worker = fleet.worker()
    send = fleet.send()
    wait_for(lambda: query(pg_settings, "SELECT 1 FROM deliveries WHERE worker_id IS NOT NULL AND status = 'sending'"),
             every=0.05, what="a batch in flight at the worker")
    send.send_signal(signal.SIGKILL)
    send.wait(60)
    plain = subprocess.run([sys.executable, "-m", "newsletter", "send", ISSUE, "--now"], cwd=fleet.publication,
                           env=fleet.env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1 and "is being sent by the send workers" in plain.stderr, plain.stdout + plain.stderr
    assert "Traceback" not in plain.stderr
    assert ledger(pg_settings).get("in_doubt", 0) == 0, "the plain send put the workers' batches in doubt"
    again = fleet.send()
    assert again.wait(300) == 0, fleet.log(again)
    assert fleet.stop(worker) == 143, fleet.log(worker)
    assert assert_exactly_once(pg_settings, standin, n) == {"sent": n}


def test_a_send_with_workers_that_fails_before_it_begins_leaves_nothing_on_hold(pg_settings, fleet, publication):
    """An audience mistake is found after the issue was put on hold for planning: the hold is
    lifted, so the workers are not left waiting on it and a plain send is not refused for it."""
    seed(pg_settings, 10)
    path = publication / "issues" / f"{ISSUE}.yaml"
    path.write_text(path.read_text().replace("audience: {lists: [weekly]}", "audience: {lists: [weekley]}"))
    send = fleet.send()
    assert send.wait(120) == 1, fleet.log(send)
    assert "no list named 'weekley'" in fleet.out(send) + fleet.log(send)
    assert query(pg_settings, "SELECT state FROM mailings WHERE issue_id = :i", i=ISSUE)[0][0] == "stopped"
    assert ledger(pg_settings) == {}
