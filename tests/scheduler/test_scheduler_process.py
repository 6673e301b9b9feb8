"""The scheduler as an operator runs it: real processes on one store (SQLite, and PostgreSQL when
configured), sending through the SendGrid stand-in over HTTP, stopped and killed mid-send."""

from __future__ import annotations

import datetime as dt
import signal
from collections import Counter

import pytest

from newsletter.store.engine import connect
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE, run_cli
from ..standins.sendgrid import SendGridStandIn
from .conftest import UTC, seed, settings_text, wait_for

OTHER_ISSUE = "other-issue"


@pytest.fixture
def sendgrid(cli_env):
    with SendGridStandIn(api_key="k") as standin:
        cli_env.update(NEWSLETTER_PROVIDER="sendgrid", SENDGRID_API_KEY="k", NEWSLETTER_SENDGRID_HOST=standin.url)
        yield standin


def soon(seconds: float) -> dt.datetime:
    return dt.datetime.now(UTC) + dt.timedelta(seconds=seconds)


def ledger(settings, issue_id: str) -> tuple[dict, list[dict]]:
    engine = connect(settings)
    try:
        book = Ledger(engine, issue_id)
        return book.counts(), book.rows(["in_doubt"], limit=100_000)
    finally:
        engine.dispose()


def sent_times(settings, issue_id: str) -> list[dt.datetime]:
    from sqlalchemy import select

    from newsletter.store.models import Delivery

    engine = connect(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Delivery.sent_at).where(Delivery.issue_id == issue_id)).scalars().all()
    finally:
        engine.dispose()
    return [t if t.tzinfo else t.replace(tzinfo=UTC) for t in rows]


def state_of(table, issue_id: str):
    row = table.find(issue_id)
    return row.state if row else None


def add_other_issue(publication) -> None:
    text = (publication / "issues" / f"{EXAMPLE_ISSUE}.yaml").read_text(encoding="utf-8")
    (publication / "issues" / f"{OTHER_ISSUE}.yaml").write_text(text, encoding="utf-8")


def test_picked_up_from_another_process_and_sent_after_a_restart(store_settings, publication, schedulers, sendgrid, table):
    """A send scheduled while a scheduler runs is seen without a restart; that scheduler stops
    before the time comes, and the next one sends it at its time, once."""
    seed(store_settings, 5)
    first = schedulers.start()
    wait_for(lambda: "started" in schedulers.log(first), what="the scheduler to start")
    due = soon(15)
    result = run_cli("schedule", EXAMPLE_ISSUE, "--at", due.isoformat(), cwd=publication)
    assert result.returncode == 0, result.stderr
    assert "UTC" in result.stdout and "America/New_York" in result.stdout
    wait_for(lambda: f"waiting: {EXAMPLE_ISSUE}" in schedulers.log(first), what="the first scheduler to see the job")
    assert schedulers.stop(first) == 143
    assert not sendgrid.delivered, "sent before its time"
    assert dt.datetime.now(UTC) < due, "the machine was too slow to stop the first scheduler before the time"

    second = schedulers.start()
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "sent", what="the send")
    assert sorted(d.email for d in sendgrid.delivered) == sorted(f"r{i}@example.com" for i in range(5))
    assert all(t >= due for t in sent_times(store_settings, EXAMPLE_ISSUE)), "sent before its time"
    log = schedulers.log(second)
    for step in ("due:", "sending:", "done:"):
        assert f"{step} {EXAMPLE_ISSUE}" in log, log
    assert schedulers.stop(second) == 143
    listing = run_cli("scheduled", "--json", cwd=publication)
    assert '"state": "sent"' in listing.stdout and "5 sent" in listing.stdout


def test_a_missed_time_is_sent_within_the_grace_and_reported_beyond_it(store_settings, publication, schedulers,
                                                                         sendgrid, table):
    settings_text(publication, schedule_grace=900)
    seed(store_settings, 3)
    add_other_issue(publication)
    now = dt.datetime.now(UTC)
    table.put(EXAMPLE_ISSUE, EXAMPLE_ISSUE, now - dt.timedelta(seconds=30), "UTC")   # within the grace
    table.put(OTHER_ISSUE, OTHER_ISSUE, now - dt.timedelta(hours=2), "UTC")        # beyond it
    process = schedulers.start()
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "sent" and state_of(table, OTHER_ISSUE) == "missed",
             what="one send sent and one missed")
    missed = table.find(OTHER_ISSUE)
    assert "schedule_grace" in missed.reason and "no scheduler ran" in missed.reason
    assert Counter(d.custom_args.get("issue") for d in sendgrid.delivered) == {EXAMPLE_ISSUE: 3}
    assert f"missed: {OTHER_ISSUE}" in schedulers.log(process)
    assert ledger(store_settings, OTHER_ISSUE)[0] == {}


def test_three_schedulers_on_one_store_send_every_issue_once(store_settings, publication, schedulers, sendgrid, table):
    n = 40
    seed(store_settings, n)
    add_other_issue(publication)
    processes = [schedulers.start() for _ in range(3)]
    wait_for(lambda: all("started" in schedulers.log(p) for p in processes), what="three schedulers")
    due = soon(3)
    table.put(EXAMPLE_ISSUE, EXAMPLE_ISSUE, due, "UTC")
    table.put(OTHER_ISSUE, OTHER_ISSUE, due, "UTC")
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "sent" and state_of(table, OTHER_ISSUE) == "sent",
             what="both sends")
    per_issue = Counter((d.custom_args.get("issue"), d.email) for d in sendgrid.delivered)
    assert len(per_issue) == 2 * n and set(per_issue.values()) == {1}, "someone got an issue twice, or not at all"
    logs = schedulers.logs()
    assert logs.count(f"due: {EXAMPLE_ISSUE}") == 1 and logs.count(f"due: {OTHER_ISSUE}") == 1, logs
    for process in processes:
        assert schedulers.stop(process) == 143


def test_a_scheduler_killed_mid_send_is_taken_over_without_sending_anyone_twice(store_settings, publication,
                                                                                 schedulers, sendgrid, table):
    settings_text(publication, scheduler_lease=3, max_in_flight=2)
    n = 5000
    seed(store_settings, n)
    sendgrid.delay = 1.0  # five batches, two at a time, a second each: the kill lands inside the send
    processes = [schedulers.start() for _ in range(2)]
    wait_for(lambda: all("started" in schedulers.log(p) for p in processes), what="two schedulers")
    table.put(EXAMPLE_ISSUE, EXAMPLE_ISSUE, soon(2), "UTC")
    wait_for(lambda: sendgrid.accepted_requests >= 1, what="the send to begin")
    holder = table.find(EXAMPLE_ISSUE).claimed_by
    victim = next(p for p in processes if holder.endswith(f":{p.pid}"))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivor = next(p for p in processes if p is not victim)
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "sent", timeout=180, what="the takeover to finish the send")

    delivered = [d.email for d in sendgrid.delivered]
    assert len(delivered) == len(set(delivered)), "somebody got two copies"
    counts, in_doubt = ledger(store_settings, EXAMPLE_ISSUE)
    assert set(counts) <= {"sent", "in_doubt"} and sum(counts.values()) == n, counts
    assert set(delivered) | {r["email"] for r in in_doubt} == {f"r{i}@example.com" for i in range(n)}
    assert counts.get("in_doubt", 0) <= 2000, "more in doubt than the two batches that can be in flight"
    assert "taken over" in schedulers.log(survivor)
    assert schedulers.stop(survivor) == 143


def test_sigterm_mid_send_finishes_the_batches_in_flight_and_the_next_start_resumes(store_settings, publication,
                                                                                  schedulers, sendgrid, table):
    n = 6000
    seed(store_settings, n)
    sendgrid.delay = 1.0  # six batches, two at a time, a second each: the signal lands inside the send
    first = schedulers.start()
    table.put(EXAMPLE_ISSUE, EXAMPLE_ISSUE, soon(1), "UTC")
    wait_for(lambda: sendgrid.accepted_requests >= 1, what="the send to begin")
    assert schedulers.stop(first) == 143
    assert state_of(table, EXAMPLE_ISSUE) == "interrupted"
    counts, _ = ledger(store_settings, EXAMPLE_ISSUE)
    assert "sending" not in counts and "in_doubt" not in counts, counts
    assert counts.get("sent", 0) == len(sendgrid.delivered), "a batch that went out was not recorded"

    second = schedulers.start()
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "sent", timeout=180, what="the resumed send")
    delivered = [d.email for d in sendgrid.delivered]
    assert sorted(delivered) == sorted(f"r{i}@example.com" for i in range(n)), "not everyone exactly once"
    assert ledger(store_settings, EXAMPLE_ISSUE)[0] == {"sent": n}
    assert "stopped gracefully" in schedulers.log(second)
    assert schedulers.stop(second) == 143


def test_an_issue_failing_its_checks_at_send_time_is_refused(store_settings, publication, schedulers, sendgrid, table):
    seed(store_settings, 3)
    result = run_cli("schedule", EXAMPLE_ISSUE, "--at", soon(60).isoformat(), cwd=publication)
    assert result.returncode == 0, result.stderr
    path = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("preheader:", "# preheader:"), encoding="utf-8")  # broken since
    table.put(EXAMPLE_ISSUE, EXAMPLE_ISSUE, soon(1), "UTC")
    process = schedulers.start()
    wait_for(lambda: state_of(table, EXAMPLE_ISSUE) == "refused", what="the refusal")
    assert "no preheader" in table.find(EXAMPLE_ISSUE).reason
    assert not sendgrid.delivered and ledger(store_settings, EXAMPLE_ISSUE)[0] == {}
    assert f"refused: {EXAMPLE_ISSUE}" in schedulers.log(process)
    listing = run_cli("scheduled", cwd=publication)
    assert "refused" in listing.stdout and "no preheader" in listing.stdout
