"""The SendGrid provider, driven through the real ``sendgrid`` client against a local stand-in."""

from __future__ import annotations

import time

import pytest

from newsletter.providers import AuthError, BatchRejected, InDoubt, TransientError
from newsletter.providers.sendgrid import SendGridProvider

from ..standins.sendgrid import Fault, SendGridStandIn
from .conftest import recipient


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # urllib honours HTTP(S)_PROXY; the stand-in is on loopback.
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
