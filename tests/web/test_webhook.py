"""SendGrid's signed event webhook through the real app (SQLite and PostgreSQL): signatures made
here with a generated key, forgeries, stale and replayed requests, duplicates, a batch of 1,000,
events for unknown rows, and what events do to the ledger and the suppression list."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event as sa_event
from sqlalchemy import text

from newsletter.issue import Audience
from newsletter.store.ledger import Ledger
from newsletter.web.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

from .conftest import add_reader

ISSUE = "2026-11-26-beanpole"


def signed(private_key, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers SendGrid sends: base64 DER ECDSA signature over timestamp + raw body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json"}


def post(client, keys, events, **kw):
    body = json.dumps(events).encode() if not isinstance(events, bytes) else events
    return client.post("/webhooks/sendgrid", content=body, headers=signed(keys[0], body, **kw))


def ev(kind: str, sid: int | None, email: str, issue: str = ISSUE, **extra) -> dict:
    event = {"email": email, "timestamp": int(time.time()), "event": kind, "sg_event_id": uuid.uuid4().hex,
             "sg_message_id": "msg.1", "issue": issue, **extra}
    if sid is not None:
        event["subscriber"] = str(sid)
    return event


def stored(store) -> int:
    with store.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM provider_events"))


@pytest.fixture
def sent(site_store):
    """Three readers with sent ledger rows for the example issue: {email: subscriber id}."""
    ids = {email: add_reader(site_store, email) for email in ("a@example.com", "b@example.com", "c@example.com")}
    for email in ids:
        site_store.add_delivery(ISSUE, email, status="sent")
    return ids


def statuses(store) -> dict[str, str]:
    return {row["email"]: row["status"] for row in store.deliveries(ISSUE)}


def test_events_update_the_ledger_and_only_move_it_up(client, site_store, webhook_keys, sent):
    a, b, c = sent["a@example.com"], sent["b@example.com"], sent["c@example.com"]
    answer = post(client, webhook_keys, [
        ev("processed", a, "a@example.com"), ev("delivered", a, "a@example.com"), ev("open", a, "a@example.com"),
        ev("click", b, "b@example.com", url="https://x.example/?utm_content=balagov-beanpole-1-1"),
        ev("delivered", b, "b@example.com"),  # after the click (out of order): the row stays clicked
        ev("deferred", c, "c@example.com", response="try later"),
    ])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 6, "new": 6, "matched": 6, "updated": 2, "suppressed": 0}
    assert statuses(site_store) == {"a@example.com": "opened", "b@example.com": "clicked", "c@example.com": "sent"}
    assert stored(site_store) == 6
    [deferred] = Ledger(site_store.engine, ISSUE).rows(["sent"])
    assert deferred["last_error"] == "SendGrid deferred: try later"


@pytest.mark.parametrize("kind,extra,ledger,subscriber", [
    ("bounce", {"type": "bounce", "reason": "550 no such user"}, "bounced", "bounced"),
    ("bounce", {"type": "blocked", "reason": "421 try later"}, "failed", "confirmed"),
    ("dropped", {"reason": "Bounced Address"}, "failed", "bounced"),
    ("spamreport", {}, "complained", "complained"),
    ("unsubscribe", {}, "sent", "unsubscribed"),
    ("group_unsubscribe", {"asm_group_id": 1}, "sent", "unsubscribed"),
    ("group_resubscribe", {"asm_group_id": 1}, "sent", "confirmed"),  # no way back without double opt-in
])
def test_bounces_complaints_and_unsubscribes_suppress_the_address(client, site_store, webhook_keys, sent,
                                                                  kind, extra, ledger, subscriber):
    sid = sent["a@example.com"]
    assert post(client, webhook_keys, [ev(kind, sid, "a@example.com", **extra)]).status_code == 200
    assert statuses(site_store)["a@example.com"] == ledger
    assert site_store.get_subscriber("a@example.com").status == subscriber
    with site_store.engine.connect() as conn:
        on_list = conn.scalar(text("SELECT count(*) FROM suppressions WHERE email_hash = :h"),
                              {"h": site_store.hash("a@example.com")})
    assert on_list == (subscriber != "confirmed")
    if ledger == "failed":
        [row] = [r for r in Ledger(site_store.engine, ISSUE).rows(["failed"])]
        assert extra["reason"] in row["last_error"]


@pytest.mark.parametrize("problem", ["unsigned", "forged", "other key", "tampered body", "stale", "future", "no key"])
def test_unsigned_forged_or_stale_requests_are_refused_and_nothing_is_stored(client, site_store, webhook_keys, sent,
                                                                            problem):
    body = json.dumps([ev("spamreport", sent["a@example.com"], "a@example.com")]).encode()
    headers = signed(webhook_keys[0], body)
    if problem == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif problem == "forged":
        headers[SIGNATURE_HEADER] = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
    elif problem == "other key":
        headers = signed(ec.generate_private_key(ec.SECP256R1()), body)
    elif problem == "tampered body":
        body = body.replace(b"spamreport", b"delivered!")
    elif problem == "stale":
        headers = signed(webhook_keys[0], body, timestamp=int(time.time()) - 301)
    elif problem == "future":
        headers = signed(webhook_keys[0], body, timestamp=int(time.time()) + 301)
    elif problem == "no key":
        client.app.state.verifier.key = None
    answer = client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert answer.status_code == 403
    assert stored(site_store) == 0
    assert site_store.get_subscriber("a@example.com").status == "confirmed"


@pytest.mark.parametrize("body", [b"not json", b'{"event": "open"}', b"[1, 2]", b"", b"\xff\xfe["])
def test_malformed_json_is_400_and_nothing_is_stored(client, site_store, webhook_keys, body):
    answer = post(client, webhook_keys, body)
    assert answer.status_code == 400
    assert stored(site_store) == 0


def test_replays_and_duplicates_are_stored_once_and_act_once(client, site_store, webhook_keys, sent):
    sid = sent["a@example.com"]
    first = ev("open", sid, "a@example.com")
    repeats = [first, dict(first), ev("delivered", sid, "a@example.com")]
    body = json.dumps(repeats).encode()
    headers = signed(webhook_keys[0], body)
    one = client.post("/webhooks/sendgrid", content=body, headers=headers)
    replay = client.post("/webhooks/sendgrid", content=body, headers=headers)  # a captured request, resent
    again = post(client, webhook_keys, [first] * 5)  # SendGrid's own retries, in a later batch
    assert one.json()["new"] == 2 and replay.json()["new"] == 0 and again.json()["new"] == 0
    assert stored(site_store) == 2
    report = site_store.events.summary(ISSUE)["events"]
    assert report["open"] == {"events": 1, "unique": 1}


def test_events_for_unknown_rows_and_unknown_events_are_kept(client, site_store, webhook_keys, sent):
    events = [
        ev("delivered", 999_999, "nobody@example.com"),  # no such subscriber
        ev("delivered", sent["a@example.com"], "a@example.com", issue="no-such-issue"),
        ev("delivered", sent["a@example.com"], "b@example.com"),  # the address does not agree
        ev("open", None, "a@example.com"),  # no subscriber custom arg (a test copy)
        ev("brand_new_event", sent["a@example.com"], "a@example.com"),
        {"event": "processed", "timestamp": "soon", "subscriber": "12345678901234567890", "issue": ["x"]},
    ]
    answer = post(client, webhook_keys, events)
    assert answer.status_code == 200 and answer.json()["matched"] == 1  # only the unknown event type matched
    assert stored(site_store) == 6
    assert set(statuses(site_store).values()) == {"sent"}


def test_a_batch_of_a_thousand_events_is_one_transaction(client, site_store, webhook_keys):
    from newsletter.store import NewSubscriber

    site_store.upsert_subscribers([NewSubscriber(email=f"r{i}@example.com", key=f"r{i}@example.com")
                                   for i in range(500)])
    Ledger(site_store.engine, ISSUE).plan(Audience())
    ids = {row["email"]: row["subscriber_id"] for row in site_store.deliveries(ISSUE)}
    events = [ev(kind, ids[f"r{i}@example.com"], f"r{i}@example.com") for i in range(500) for kind in ("delivered", "open")]
    body = json.dumps(events).encode()
    commits = []

    def count(conn):
        commits.append(conn)

    sa_event.listen(site_store.engine, "commit", count)
    try:  # one transaction, not one per event: its speed follows (a timed assert would fail on a busy machine)
        answer = client.post("/webhooks/sendgrid", content=body, headers=signed(webhook_keys[0], body))
    finally:
        sa_event.remove(site_store.engine, "commit", count)
    assert answer.status_code == 200 and answer.json()["new"] == 1000
    assert len(commits) == 1
    assert set(statuses(site_store).values()) == {"opened"}


def test_in_doubt_rows_are_resolved_by_the_providers_word(client, site_store, webhook_keys):
    ids = {e: add_reader(site_store, e) for e in ("doubt@example.com", "sending@example.com", "silent@example.com")}
    for email in ids:
        site_store.add_delivery(ISSUE, email, status="in_doubt")
    with site_store.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET status = 'sending' WHERE email = 'sending@example.com'"))
    post(client, webhook_keys, [ev("processed", ids["doubt@example.com"], "doubt@example.com"),
                                ev("delivered", ids["sending@example.com"], "sending@example.com")])
    rows = {r["email"]: r for r in Ledger(site_store.engine, ISSUE).rows(["sent", "delivered", "in_doubt"])}
    assert rows["doubt@example.com"]["status"] == "sent"
    assert "was in doubt; SendGrid's processed event" in rows["doubt@example.com"]["last_error"]
    assert rows["sending@example.com"]["status"] == "delivered"
    assert rows["silent@example.com"]["status"] == "in_doubt"


def test_report_shows_events_and_clicks_per_article_slot(client, site_store, webhook_keys, sent, publication):
    from ..conftest import run_cli

    a, b, c = sent["a@example.com"], sent["b@example.com"], sent["c@example.com"]
    lead = "https://thelongtake.example/interviews/balagov-beanpole?utm_source=newsletter&utm_content=balagov-beanpole-1-1"
    post(client, webhook_keys, [
        ev("delivered", a, "a@example.com"), ev("delivered", b, "b@example.com"),
        ev("bounce", c, "c@example.com", type="bounce", reason="550 unknown user"),
        ev("open", a, "a@example.com"), ev("open", a, "a@example.com"), ev("open", b, "b@example.com"),
        ev("click", a, "a@example.com", url=lead), ev("click", a, "a@example.com", url=lead),
        ev("click", b, "b@example.com", url=lead),
        ev("click", b, "b@example.com", url="https://thelongtake.example/?utm_content=wings-shepitko-2-2"),
        ev("click", b, "b@example.com", url="https://elsewhere.example/"),
        ev("spamreport", b, "b@example.com"),
    ])
    result = run_cli("report", ISSUE, "--json", cwd=publication)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    engagement = report["engagement"]
    assert engagement["delivered"] == {"deliveries": 2, "events": 2}
    assert engagement["bounced"]["deliveries"] == engagement["complained"]["deliveries"] == 1
    assert engagement["opened"] == {"deliveries": 2, "events": 3}
    assert engagement["clicked"] == {"deliveries": 2, "events": 5}
    slots = {s["slot"]: s for s in report["clicks_by_slot"]}
    assert (slots["balagov-beanpole-1-1"]["clicks"], slots["balagov-beanpole-1-1"]["readers"]) == (3, 2)
    assert slots["wings-shepitko-2-2"]["clicks"] == 1
    assert slots[None] == {"slot": None, "article": None, "title": "other links", "clicks": 1, "readers": 1}
    assert slots["cranes-are-flying-restoration-2-1"]["clicks"] == 0  # every slot of the issue is listed
    assert report["counts"] == {"clicked": 1, "bounced": 1, "complained": 1}

    shown = run_cli("report", ISSUE, cwd=publication).stdout
    assert "events: 2 delivered, 1 bounced, 0 dropped, 1 complained, 2 opened (3 opens), 2 clicked (5 clicks)" in shown
    assert "3 clicks (2 readers)  balagov-beanpole-1-1" in shown


def test_events_built_from_what_sendgrid_was_sent_find_their_rows(client, site_settings, site_store, webhook_keys):
    """A real send through the SendGrid stand-in: the custom args it was given come back as the
    events' top-level keys, and every event finds its row."""
    from newsletter.send import send_issue

    from ..standins.sendgrid import SendGridStandIn

    for i in range(5):
        add_reader(site_store, f"reader{i}@example.com")
    with SendGridStandIn(api_key="k") as standin:
        site_settings.provider, site_settings.sendgrid_api_key, site_settings.sendgrid_host = "sendgrid", "k", standin.url
        send_issue(ISSUE, site_settings)
        delivered = list(standin.delivered)
    events = [{**copy.custom_args, "email": copy.email, "event": "delivered", "timestamp": int(time.time()),
               "sg_event_id": uuid.uuid4().hex, "sg_message_id": copy.message_id} for copy in delivered]
    answer = post(client, webhook_keys, events)
    assert answer.json()["matched"] == 5 and answer.json()["updated"] == 5
    assert set(statuses(site_store).values()) == {"delivered"}


def test_erasing_a_subscriber_scrubs_their_events(client, site_store, webhook_keys, sent):
    sid = sent["a@example.com"]
    post(client, webhook_keys, [ev("click", sid, "a@example.com", url="https://x.example/", ip="203.0.113.9",
                                   useragent="Mail/1.0")])
    assert site_store.erase_subscriber("a@example.com")
    with site_store.engine.connect() as conn:
        row = conn.execute(text("SELECT subscriber_id, payload FROM provider_events")).one()
    payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
    assert row.subscriber_id is None
    assert set(payload) == {"event", "timestamp", "sg_event_id", "sg_message_id", "issue"}
    assert site_store.events.summary(ISSUE)["events"]["click"] == {"events": 1, "unique": 1}  # still counted
