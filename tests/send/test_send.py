"""The send loop on a real store (SQLite, and PostgreSQL when configured): exactly once,
resumable, faults handled, results recorded per subscriber."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import secrets

import pytest

from newsletter.issue import load_issue
from newsletter.send import SendOptions, SendStopped, send_issue
from newsletter.send.loop import ChecksFailed
from newsletter.store import NewSubscriber
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE
from ..standins.sendgrid import Fault, SendGridStandIn

NO_WAIT = {"sleep": lambda seconds: None}


def seed(store, n: int, lists=("weekly",), status="confirmed", start=1, **attrs):
    rows = [NewSubscriber(email=f"reader{i}@example.com", key=f"reader{i}@example.com", name=f"Reader {i}",
                          lists=list(lists), attributes=dict(attrs)) for i in range(start, start + n)]
    store.upsert_subscribers(rows, status=status)
    return rows


def outbox_messages(settings):
    return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
            for m in mailbox.Maildir(settings.root / settings.outbox, create=True)]


def test_send_through_the_outbox_once_and_again_sends_nobody_twice(store_settings, store):
    seed(store, 12)
    seed(store, 3, lists=("festival",), start=100)          # not in the audience (lists: [weekly])
    seed(store, 2, status="unsubscribed", start=200)       # never selected
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert (summary.planned, summary.sent, summary.failed) == (12, 12, 0)
    messages = outbox_messages(store_settings)
    assert sorted(str(m["To"]) for m in messages) == sorted(f"Reader {i} <reader{i}@example.com>" for i in range(1, 13))
    first = messages[0]
    unsubscribe = first["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("https://thelongtake.example/unsubscribe/")
    assert unsubscribe in first.get_body(("html",)).get_content()

    again = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert (again.planned, again.sent) == (0, 0)
    assert len(outbox_messages(store_settings)) == 12
    assert again.counts == {"sent": 12}

    seed(store, 2, start=50)  # joined since: the next run sends to them only
    later = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert (later.planned, later.sent) == (2, 2)
    assert len(outbox_messages(store_settings)) == 14


def test_unsubscribed_since_the_plan_is_skipped(store_settings, store):
    seed(store, 5)
    settings = store_settings
    issue = load_issue(settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", settings)
    Ledger(store.engine, issue.id).plan(issue.audience)
    store.set_status("reader2@example.com", "unsubscribed")
    summary = send_issue(EXAMPLE_ISSUE, settings, **NO_WAIT)
    assert (summary.sent, summary.skipped) == (4, 1)
    assert summary.counts == {"sent": 4, "skipped": 1}


def test_rows_left_sending_by_a_crash_are_in_doubt_and_only_resent_on_purpose(store_settings, store):
    from ..standins.smtp import Sink, running

    seed(store, 6)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    ledger = Ledger(store.engine, issue.id)
    ledger.plan(issue.audience)
    crashed = ledger.claim(2)  # claimed, then the process died before recording a result
    handler = Sink()
    with running(handler) as url:  # SMTP keeps no record to settle the doubt from
        store_settings.provider, store_settings.smtp_url = "smtp", url
        summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
        assert summary.in_doubt_found == 2 and summary.sent == 4
        assert summary.counts == {"sent": 4, "in_doubt": 2}
        assert len(handler.messages) == 4
        retried = send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(retry_in_doubt=True), **NO_WAIT)
    assert retried.sent == 2 and retried.counts == {"sent": 6}
    assert {c.email for c in crashed} <= {rcpts[0] for _, rcpts, _ in handler.messages}


def test_a_claim_forgets_an_old_worker_and_a_late_answer_settles_a_row_put_in_doubt(store_settings, store):
    """A row a send worker once claimed and gave back carries no worker id once claimed again (a
    reaper of that worker must not take it); a row put in doubt while its batch was out (a worker
    that missed its lease) becomes sent when the provider's answer comes after all."""
    from sqlalchemy import text

    seed(store, 2)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    ledger = Ledger(store.engine, issue.id)
    ledger.plan(issue.audience)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET worker_id = 7"))
    rows = ledger.claim(2)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT worker_id FROM deliveries")).scalars().all() == [None, None]
    ledger.mark("in_doubt", [(rows[0].delivery_id, "its send worker died (lease expired)")])
    ledger.mark_sent([(row.delivery_id, "msg-1") for row in rows])
    assert ledger.counts() == {"sent": 2}


def test_the_outbox_settles_rows_in_doubt_from_its_maildir(store_settings, store):
    """A crash between the claim and the record: the rows whose file was written are sent, the
    others never left and are sent now. Nothing stays in doubt, nobody gets two."""
    from newsletter.providers import Mailing
    from newsletter.providers.outbox import OutboxProvider, file_name
    from newsletter.render import render_issue
    from newsletter.send.loop import _recipient
    from newsletter.tokens import Tokens

    seed(store, 6)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    ledger = Ledger(store.engine, issue.id)
    ledger.plan(issue.audience)
    crashed = ledger.claim(3)
    rendered = render_issue(issue, store_settings)
    mailing = Mailing(issue_id=issue.id, subject=issue.subject, from_address=store_settings.from_address,
                      rendered=rendered)
    tokens = Tokens.for_settings(store_settings)
    written = OutboxProvider(store_settings.root / store_settings.outbox).send(  # the process died after this
        mailing, [_recipient(row, tokens) for row in crashed[:2]])
    # The third was renamed into new/ but a power cut came before the batch's sync: an empty file.
    (store_settings.root / store_settings.outbox / "new" / file_name(issue.id, crashed[2].delivery_id)).write_bytes(b"")
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.in_doubt_found == 0 and summary.sent == 4 and summary.counts == {"sent": 6}
    messages = outbox_messages(store_settings)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages if m["To"]) == [
        f"reader{i}@example.com" for i in range(1, 7)]
    assert len(messages) == 6  # the empty file is gone, its row sent now
    rows = {r["id"]: r for r in ledger.rows(["sent"])}
    assert {rows[c.delivery_id]["attempts"] for c in crashed} == {1}  # the one that never left was refunded
    from sqlalchemy import select

    from newsletter.store.models import Delivery
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(Delivery.id, Delivery.provider_message_id)).all())
    assert [ids[c.delivery_id] for c in crashed[:2]] == [r.message_id for r in written]


def test_dry_run_writes_nothing(store_settings, store):
    seed(store, 4)
    summary = send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(dry_run=True), **NO_WAIT)
    assert summary.audience == 4 and summary.counts == {}
    assert outbox_messages(store_settings) == []


def test_an_issue_failing_its_checks_queues_nothing(store_settings, store):
    seed(store, 3)
    path = store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("preheader:", "# preheader:"))
    with pytest.raises(ChecksFailed) as err:
        send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert any("no preheader" in line for line in err.value.lines())
    issue = load_issue(path, store_settings)
    assert Ledger(store.engine, issue.id).counts() == {}


# --- SendGrid -----------------------------------------------------------------------------------


@pytest.fixture
def sendgrid(store_settings, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with SendGridStandIn(api_key="sg-key") as standin:
        store_settings.provider = "sendgrid"
        store_settings.sendgrid_api_key = "sg-key"
        store_settings.sendgrid_host = standin.url
        yield standin


def test_sendgrid_batches_of_a_thousand_each_recipient_once(store_settings, store, sendgrid):
    seed(store, 2500)
    sendgrid.inject(Fault(503, {"errors": [{"message": "try later"}]}))
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.sent == 2500 and summary.counts == {"sent": 2500}
    assert sendgrid.accepted_requests == 3
    emails = [d.email for d in sendgrid.delivered]
    assert len(emails) == len(set(emails)) == 2500
    copy = next(d for d in sendgrid.delivered if d.email == "reader7@example.com")
    assert copy.custom_args["issue"] == EXAMPLE_ISSUE and copy.custom_args["subscriber"].isdigit()
    assert copy.headers["List-Unsubscribe"].startswith("<https://thelongtake.example/unsubscribe/")


def test_refused_key_stops_at_once_and_leaves_the_rest_queued(store_settings, store, sendgrid):
    seed(store, 5)
    store_settings.sendgrid_api_key = "wrong"
    with pytest.raises(SendStopped, match="refused the API key"):
        send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    assert Ledger(store.engine, issue.id).counts() == {"queued": 5}


def test_a_rejected_batch_fails_with_the_provider_text(store_settings, store, sendgrid):
    seed(store, 3)
    sendgrid.inject(Fault(400, {"errors": [{"message": "The from address does not match a verified Sender Identity", "field": "from"}]}))
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.counts == {"failed": 3}
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    rows = Ledger(store.engine, issue.id).rows(["failed"])
    assert rows[0]["last_error"] == ("SendGrid rejected the batch (HTTP 400): from: The from address does not match "
                                     "a verified Sender Identity")
    again = send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(retry_failed=True), **NO_WAIT)
    assert again.counts == {"sent": 3}


def test_repeated_transient_failures_pause_the_send(store_settings, store, sendgrid):
    seed(store, 3)
    sendgrid.inject(*[Fault(500, {"errors": [{"message": "down"}]})] * 3)
    waits = []
    with pytest.raises(SendStopped, match="paused after 3 failing batches"):
        send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(pause_after=3), sleep=waits.append)
    assert len(waits) == 2
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    assert Ledger(store.engine, issue.id).counts() == {"queued": 3}
    resumed = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert resumed.counts == {"sent": 3} and sendgrid.accepted_recipients == 3


def test_rate_limit_waits_until_the_reset(store_settings, store, sendgrid):
    import time

    seed(store, 2)
    sendgrid.inject(Fault(429, {"errors": [{"message": "slow down"}]}, {"X-RateLimit-Reset": str(int(time.time()) + 20)}))
    waits = []
    summary = send_issue(EXAMPLE_ISSUE, store_settings, sleep=waits.append)
    assert summary.counts == {"sent": 2}
    assert len(waits) == 1 and 15 <= waits[0] <= 21


def test_audience_by_lists_and_attributes(store_settings, store):
    seed(store, 3, country="FR", plan="pro")
    seed(store, 2, start=10, country="DE", plan="team")
    seed(store, 2, start=20, country="FR", plan="free")
    seed(store, 2, start=30, lists=("festival",), country="FR", plan="pro")
    path = store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("audience: {lists: [weekly]}",
                                             "audience: {lists: [weekly], where: {country: FR, plan: [pro, team]}}"))
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.sent == 3
    assert sorted(m["To"].addresses[0].addr_spec for m in outbox_messages(store_settings)) == [
        "reader1@example.com", "reader2@example.com", "reader3@example.com"]


def test_smtp_send_fails_only_the_refused_recipient(store_settings, store):
    from ..standins.smtp import Sink, running

    seed(store, 5)
    handler = Sink(refuse={"reader4@example.com"})
    with running(handler) as url:
        store_settings.provider, store_settings.smtp_url = "smtp", url
        summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert (summary.sent, summary.failed) == (4, 1)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    failed = Ledger(store.engine, issue.id).rows(["failed"])
    assert [(r["email"], r["last_error"]) for r in failed] == [("reader4@example.com", "550 5.1.1 No such user here")]
    assert len(handler.messages) == 4


def test_a_lost_sendgrid_answer_leaves_that_batch_in_doubt_and_sends_the_rest(store_settings, store, sendgrid):
    seed(store, 2500)
    store_settings.provider_timeout = 1.0
    sendgrid.inject(Fault(202, delay=2.5))  # the first request is accepted, its answer comes too late
    summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.counts == {"in_doubt": 1000, "sent": 1500}
    assert summary.in_doubt == 1000
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    doubtful = Ledger(store.engine, issue.id).rows(["in_doubt"], limit=1)
    assert "no answer within 1 s after the request was sent" in doubtful[0]["last_error"]
    again = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)  # never resent silently
    assert again.sent == 0 and again.counts == {"in_doubt": 1000, "sent": 1500}


def test_an_outage_pauses_the_send_and_keeps_everyone_queued(store_settings, store):
    from ..standins.smtp import free_port

    seed(store, 4)
    store_settings.provider = "smtp"
    store_settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
    with pytest.raises(SendStopped, match="paused after 3 failing batches"):
        send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(pause_after=3), **NO_WAIT)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    rows = Ledger(store.engine, issue.id).rows(["queued"])
    assert len(rows) == 4 and {r["attempts"] for r in rows} == {0}


def test_an_unexpected_provider_error_marks_the_batch_in_doubt_and_stops(store_settings, store):
    import shutil

    seed(store, 600)  # two outbox batches (500 + 100)
    outbox = store_settings.root / store_settings.outbox

    def break_the_outbox(progress):  # after the first batch, the folder breaks under the provider's feet
        if (outbox / "tmp").is_dir():
            shutil.rmtree(outbox / "tmp")
            (outbox / "tmp").write_text("not a folder")

    with pytest.raises(SendStopped, match="unexpected .* from the outbox provider"):
        send_issue(EXAMPLE_ISSUE, store_settings, progress=break_the_outbox, **NO_WAIT)
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    assert Ledger(store.engine, issue.id).counts() == {"sent": 500, "in_doubt": 100}


def test_a_recipient_refused_for_now_is_retried_after_the_rest(store_settings, store):
    from ..standins.smtp import Sink, running

    class Greylisting(Sink):
        """Refuses reader5 once with a 4xx, as a greylisting server does."""

        def __init__(self):
            super().__init__()
            self.refused_once = False

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address == "reader5@example.com" and not self.refused_once:
                self.refused_once = True
                return "451 4.7.1 Greylisted, try again later"
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    seed(store, 450)  # three SMTP batches: reader5 goes back in the queue behind the keyset cursor
    handler = Greylisting()
    with running(handler) as url:
        store_settings.provider, store_settings.smtp_url = "smtp", url
        summary = send_issue(EXAMPLE_ISSUE, store_settings, **NO_WAIT)
    assert summary.counts == {"sent": 450} and handler.refused_once
    delivered = [rcpts[0] for _, rcpts, _ in handler.messages]
    assert len(delivered) == len(set(delivered)) == 450
    issue = load_issue(store_settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml", store_settings)
    with store.engine.connect() as conn:
        from sqlalchemy import text

        attempts = conn.execute(text("SELECT attempts FROM deliveries WHERE email = 'reader5@example.com'")).scalar()
    assert attempts == 2
    assert Ledger(store.engine, issue.id).counts() == {"sent": 450}


def test_the_send_lock_is_one_per_issue_and_store(store_settings, store, database_url):
    """Two stores sharing one PostgreSQL database (schemas apart) never block each other's sends."""
    from newsletter.store.ledger import SendLock

    first = SendLock(store.engine, EXAMPLE_ISSUE)
    assert first.acquire()
    try:
        assert not SendLock(store.engine, EXAMPLE_ISSUE).acquire(), "one send per issue at a time"
        other = SendLock(store.engine, "another-issue")
        assert other.acquire()
        other.release()
        if database_url:
            import psycopg
            from sqlalchemy import create_engine

            from ..storefixtures import PG_ENV

            base = os.environ[PG_ENV]
            plain = base.replace("postgresql+psycopg", "postgresql")
            schema = f"t_{secrets.token_hex(6)}"
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                neighbour = create_engine(f"{base}?options=-csearch_path%3D{schema}")
                lock = SendLock(neighbour, EXAMPLE_ISSUE)
                assert lock.acquire(), "a store in another schema was blocked"
                lock.release()
                neighbour.dispose()
            finally:
                with psycopg.connect(plain, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        first.release()
    again = SendLock(store.engine, EXAMPLE_ISSUE)
    assert again.acquire()
    again.release()
