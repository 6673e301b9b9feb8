"""The SendGrid provider, over real HTTP (its pooled httpx client) against a local stand-in."""

from __future__ import annotations

import time

import orjson
import pytest

from newsletter.providers import AuthError, BatchRejected, InDoubt, TransientError
from newsletter.providers.sendgrid import SendGridProvider

from ..standins.sendgrid import Fault, SendGridStandIn
from .conftest import recipient


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # httpx honours HTTP(S)_PROXY; the stand-in is on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def standin():
    with SendGridStandIn(api_key="good-key") as sg:
        yield sg


def provider(standin, key="good-key", timeout=5.0) -> SendGridProvider:
    return SendGridProvider(api_key=key, host=standin.url, timeout=timeout)


def test_one_request_per_thousand_recipients_each_personalized(standin, mailing):
    recipients = [recipient(n, name=f"Reader <{n}>") for n in range(1, 1001)]
    with provider(standin) as sg:
        results = sg.send(mailing, recipients)
    assert standin.accepted_requests == 1 and standin.accepted_recipients == 1000
    assert all(r.ok and r.message_id for r in results)
    copy = {d.email: d for d in standin.delivered}["ann7@example.com"]
    assert copy.name == "Reader <7>"
    assert 'href="https://thelongtake.example/unsubscribe/7.sig"' in copy.html
    assert "https://thelongtake.example/unsubscribe/7.sig" in copy.text
    assert "ann7@example.com" in copy.html and "__NL_" not in copy.html + copy.text
    assert copy.headers["List-Unsubscribe"].startswith("<https://thelongtake.example/unsubscribe/7.sig>")
    assert copy.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert copy.headers["List-Id"] == "The Long Take <the-long-take.thelongtake.example>"
    assert copy.custom_args == {"issue": mailing.issue_id, "subscriber": "7"}
    assert copy.categories == [mailing.issue_id]


def test_names_are_escaped_in_html_but_not_in_text(standin, mailing):
    mailing.rendered.html = mailing.rendered.html.replace("This issue was sent to", "Hello __NL_SUBSCRIBER_NAME__, sent to")
    mailing.rendered.text = mailing.rendered.text.replace("This issue was sent to", "Hello __NL_SUBSCRIBER_NAME__, sent to")
    with provider(standin) as sg:
        sg.send(mailing, [recipient(1, name="Ann <b>Lee</b> & co")])
    copy = standin.delivered[0]
    assert "Hello Ann &lt;b&gt;Lee&lt;/b&gt; &amp; co, sent to" in copy.html
    assert "Hello Ann <b>Lee</b> & co, sent to" in copy.text


def test_more_than_a_thousand_is_refused_before_calling(standin, mailing):
    with pytest.raises(ValueError):
        provider(standin).send(mailing, [recipient(n) for n in range(1001)])
    assert standin.requests == []


def test_wrong_key_is_an_auth_error(standin, mailing):
    with pytest.raises(AuthError, match="HTTP 401"):
        provider(standin, key="bad-key").send(mailing, [recipient(1)])


def test_rate_limit_says_when_to_retry(standin, mailing):
    standin.inject(Fault(429, {"errors": [{"message": "too many requests"}]},
                         {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 30)}))
    with pytest.raises(TransientError) as err:
        provider(standin).send(mailing, [recipient(1)])
    assert 25 <= err.value.retry_after <= 31


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(standin, mailing, status):
    standin.inject(Fault(status, {"errors": [{"message": "oops"}]}))
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        provider(standin).send(mailing, [recipient(1)])


def test_refused_connection_is_transient_but_a_lost_answer_is_in_doubt(standin, mailing):
    # The request went out; SendGrid may have accepted it, and it has no idempotency key.
    standin.inject(Fault(202, delay=1.5))
    with pytest.raises(InDoubt, match="no answer within 0.5 s after the request was sent"):
        provider(standin, timeout=0.5).send(mailing, [recipient(1)])
    closed = SendGridProvider(api_key="k", host="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientError, match="unreachable"):
        closed.send(mailing, [recipient(1)])


def test_a_bad_request_is_rejected_with_the_provider_text(standin, mailing):
    duplicate = [recipient(1), recipient(1)]
    with pytest.raises(BatchRejected, match="should be unique"):
        provider(standin).send(mailing, duplicate)


def test_standin_enforces_the_documented_limits(standin):
    base = {"from": {"email": "a@x.example"}, "subject": "s", "content": [{"type": "text/plain", "value": "x"}]}
    too_many = {**base, "personalizations": [{"to": [{"email": f"r{i}@x.example"}]} for i in range(1001)]}
    assert any("no more than 1000" in e["message"] for e in standin.validate(too_many))
    reserved = {**base, "personalizations": [{"to": [{"email": "r@x.example"}], "headers": {"Reply-To": "x"}}]}
    assert any("reserved" in e["message"] for e in standin.validate(reserved))
    no_content = {"from": {"email": "a@x.example"}, "subject": "s", "personalizations": [{"to": [{"email": "r@x.example"}]}]}
    assert any(e["field"] == "content" for e in standin.validate(no_content))
    no_from = {**base, "from": {}, "personalizations": [{"to": [{"email": "r@x.example"}]}]}
    assert any(e["field"] == "from" for e in standin.validate(no_from))
    wide = {**base, "personalizations": [{"to": [{"email": f"r{i}-{j}@x.example"} for j in range(3)]} for i in range(400)]}
    assert any("total number of recipients" in e["message"] for e in standin.validate(wide))


def test_the_escaped_duplicate_goes_only_in_a_batch_that_needs_it(standin, mailing):
    """A field whose values all read the same escaped has one token in both parts and one
    substitution; a batch with a value escaping changes gets the text part's own token."""
    for part in ("html", "text"):
        setattr(mailing.rendered, part, getattr(mailing.rendered, part).replace(
            "This issue was sent to", "Hello __NL_SUBSCRIBER_NAME__ (__NL_SUBSCRIBER_FIRST_NAME__), sent to"))
    bodies = []
    with provider(standin) as sg:
        post = sg._post
        sg._post = lambda body: bodies.append(orjson.loads(body)) or post(body)
        sg.send(mailing, [recipient(1, name="Ann Lee"), recipient(2, name="Bo  Ek")])
        sg.send(mailing, [recipient(3, name="Ann Lee"), recipient(4, name="Seán O'Brien & co")])
    plain, mixed = bodies
    assert all("__NL_T_" not in key for p in plain["personalizations"] for key in p["substitutions"])
    assert "__NL_T_" not in plain["content"][0]["value"]
    assert len(plain["personalizations"][0]["substitutions"]) == 5  # email, name, first name, two links
    assert "__NL_T_SUBSCRIBER_NAME__" in mixed["content"][0]["value"]
    assert "__NL_T_SUBSCRIBER_EMAIL__" not in mixed["content"][0]["value"]  # no address needed escaping
    copies = {d.email: d for d in standin.delivered}
    assert "Hello Bo Ek (Bo), sent to" in copies["ann2@example.com"].html
    assert "Hello Seán O&#x27;Brien &amp; co (Seán), sent to" in copies["ann4@example.com"].html
    assert "Hello Seán O'Brien & co (Seán), sent to" in copies["ann4@example.com"].text
    assert "Hello Ann Lee (Ann), sent to" in copies["ann3@example.com"].html + copies["ann3@example.com"].text


def test_what_is_the_same_for_everyone_is_said_once_per_request(standin, mailing):
    bodies = []
    with provider(standin) as sg:
        post = sg._post
        sg._post = lambda body: bodies.append(orjson.loads(body)) or post(body)
        sg.send(mailing, [recipient(n) for n in range(1, 4)])
    body = bodies[0]
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["custom_args"] == {"issue": mailing.issue_id}
    for n, p in enumerate(body["personalizations"], start=1):
        assert set(p) == {"to", "substitutions", "headers", "custom_args"}
        assert p["headers"] == {"List-Unsubscribe": f"<https://thelongtake.example/unsubscribe/{n}.sig>, "
                                                    "<mailto:unsubscribe@thelongtake.example?subject=unsubscribe>"}
        assert p["custom_args"] == {"subscriber": str(n)}  # what the webhook matches a row by, with the issue


def test_requests_share_kept_alive_connections(standin, mailing):
    with provider(standin) as sg:
        for n in range(5):
            sg.send(mailing, [recipient(n + 1)])
        connections = sg._http._transport._pool.connections  # httpcore's pool
        assert standin.accepted_requests == 5 and len(connections) == 1
