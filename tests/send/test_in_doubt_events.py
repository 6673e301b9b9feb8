"""In-doubt SendGrid deliveries and the provider's own word (issue 9 §2): the event webhook resolves
them, and `send --retry-in-doubt` resends only those that stayed silent for `in_doubt_grace`."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import text

from newsletter.config import load_settings
from newsletter.issue import find_issue, load_issue
from newsletter.store import NewSubscriber, open_store
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE
from ..standins.sendgrid import SendGridStandIn
from ..storefixtures import use_database


def crash_with_rows_in_flight(settings, n: int) -> tuple[list[int], dict[str, int]]:
    """n readers whose batch was claimed and handed over, and then the sender died."""
    issue = load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    with open_store(settings) as store:
        store.upsert_subscribers([NewSubscriber(email=f"r{i}@example.com", key=f"r{i}@example.com", lists=["weekly"])
                                  for i in range(n)])
        ledger = Ledger(store.engine, issue.id)
        ledger.plan(issue.audience)
        claimed = ledger.claim(n)
        return [r.delivery_id for r in claimed], {r.email: r.subscriber_id for r in claimed}


def age(settings, delivery_ids: list[int], minutes: int) -> None:
    with open_store(settings) as store, store.engine.begin() as conn:
        when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)
        for did in delivery_ids:
            conn.execute(text("UPDATE deliveries SET updated_at = :t WHERE id = :d"), {"t": when, "d": did})


def test_retry_in_doubt_waits_for_events_then_resends_only_the_silent(publication, database_url, webhook_keys):
    use_database(publication, database_url)
    settings = load_settings(publication / "newsletter.toml", env={})
    ids, subscriber_of = crash_with_rows_in_flight(settings, 4)
    age(settings, ids[:1], minutes=20)  # r0's batch went 20 minutes ago: past the 15-minute grace

    with SendGridStandIn(api_key="k") as standin:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        env.update(NEWSLETTER_PROVIDER="sendgrid", SENDGRID_API_KEY="k", NEWSLETTER_SENDGRID_HOST=standin.url,
                   NO_PROXY="127.0.0.1,localhost", NEWSLETTER_SENDGRID_WEBHOOK_KEY=webhook_keys[1], COLUMNS="300")
        run = lambda *a: subprocess.run([sys.executable, "-m", "newsletter", *a], cwd=publication, env=env,  # noqa: E731
                                        capture_output=True, text=True, timeout=120)
        first = run("send", EXAMPLE_ISSUE, "--now", "--retry-in-doubt")
        assert first.returncode == 1, first.stdout + first.stderr
        assert "4 deliveries were interrupted by an earlier crash" in first.stdout
        assert "1 deliveries put back in the queue on request" in first.stdout
        assert "3 deliveries in doubt are held back until" in first.stdout
        assert "SendGrid's event webhook may still show they were sent (in_doubt_grace = 900 s" in first.stdout
        assert [d.email for d in standin.delivered] == ["r0@example.com"]

        # SendGrid's events arrive for two of the three held back: they were sent after all.
        with open_store(settings) as store:
            result = store.events.ingest([
                {"event": "processed", "sg_event_id": "e1", "email": "r1@example.com", "issue": EXAMPLE_ISSUE,
                 "subscriber": str(subscriber_of["r1@example.com"]), "timestamp": 1},
                {"event": "delivered", "sg_event_id": "e2", "email": "r2@example.com", "issue": EXAMPLE_ISSUE,
                 "subscriber": str(subscriber_of["r2@example.com"]), "timestamp": 2},
            ])
            assert result.updated == 2
        age(settings, ids, minutes=20)  # the grace is over
        second = run("send", EXAMPLE_ISSUE, "--now", "--retry-in-doubt")
        assert second.returncode == 0, second.stdout + second.stderr
        assert sorted(d.email for d in standin.delivered) == ["r0@example.com", "r3@example.com"]

    counts = Ledger(open_store(settings).engine, EXAMPLE_ISSUE).counts()
    assert counts == {"sent": 3, "delivered": 1}


def test_without_the_webhook_there_is_nothing_to_wait_for(publication, store_settings, store):
    from newsletter.send import SendOptions, send_issue

    crash_with_rows_in_flight(store_settings, 2)
    with SendGridStandIn(api_key="k") as standin:
        store_settings.provider, store_settings.sendgrid_api_key = "sendgrid", "k"
        store_settings.sendgrid_host = standin.url
        summary = send_issue(EXAMPLE_ISSUE, store_settings, SendOptions(retry_in_doubt=True, in_doubt_grace=900))
        assert (summary.held_back, summary.requeued, summary.sent) == (0, 2, 2)
        assert len(standin.delivered) == 2
