"""SendGrid refuses a whole request when one personalization's substitutions pass 10,000 bytes:
such a recipient is trimmed (their name) or fails alone, never the 999 others (issue 9 §5)."""

from __future__ import annotations

import dataclasses

import pytest

from newsletter.providers.sendgrid import MAX_SUBSTITUTIONS, SendGridProvider

from ..standins.sendgrid import SendGridStandIn
from .conftest import recipient

GREETING = "Hello __NL_SUBSCRIBER_FIRST_NAME__ (__NL_SUBSCRIBER_NAME__), this issue was sent to"


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with SendGridStandIn(api_key="good-key") as sg:
        yield sg


@pytest.fixture
def greeting(mailing):
    """The example mailing, with the subscriber's name in both parts (the example theme has none)."""
    rendered = mailing.rendered
    rendered.html = rendered.html.replace("This issue was sent to", GREETING)
    rendered.text = rendered.text.replace("This issue was sent to", GREETING)
    return mailing


@pytest.mark.parametrize("name", ["€" * 1000, "&" * 1000, "Ann " + "🎬" * 996], ids=["euro", "ampersand", "emoji"])
def test_one_huge_name_is_trimmed_and_the_other_999_go(standin, greeting, name):
    people = [recipient(n) for n in range(1, 1001)]
    people[500] = dataclasses.replace(people[500], name=name)
    with SendGridProvider(api_key="good-key", host=standin.url, timeout=10) as sg:
        results = sg.send(greeting, people)
    assert all(r.ok for r in results) and standin.accepted_recipients == 1000
    copies = {d.email: d for d in standin.delivered}
    assert "Hello Ann (Ann Lee), this issue was sent to" in copies["ann1@example.com"].text
    greeting_line = copies[people[500].email].text.split("Hello ", 1)[1].split(", this issue", 1)[0]
    shown = greeting_line.partition(" (")[2].removesuffix(")")  # the name, as far as it fits
    assert 0 < len(shown) < len(name) and name.startswith(shown)


def test_fields_too_big_even_without_a_name_fail_alone(standin, greeting):
    people = [recipient(n) for n in range(1, 4)]
    long_url = "https://thelongtake.example/unsubscribe/" + "x" * 6000
    people[1] = dataclasses.replace(people[1], unsubscribe_url=long_url, preferences_url=long_url)
    with SendGridProvider(api_key="good-key", host=standin.url, timeout=10) as sg:
        results = sg.send(greeting, people)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == f"per-recipient fields exceed SendGrid's {MAX_SUBSTITUTIONS:,}-byte substitutions limit"
    assert not results[1].transient and not results[1].in_doubt
    assert sorted(d.email for d in standin.delivered) == ["ann1@example.com", "ann3@example.com"]


def test_names_of_every_length_go_in_one_request(standin, greeting):
    """The stand-in refuses, as SendGrid does, any request with one personalization over the limit."""
    people = [dataclasses.replace(recipient(n), name="é" * (n * 37)) for n in range(1, 28)]
    with SendGridProvider(api_key="good-key", host=standin.url, timeout=10) as sg:
        assert all(r.ok for r in sg.send(greeting, people))
    assert (standin.accepted_requests, standin.accepted_recipients) == (1, 27)


def test_through_the_ledger_a_huge_name_costs_nobody_their_issue(store_settings, store, standin):
    from newsletter.send import send_issue
    from newsletter.subscribers import import_csv

    for relative in ("templates/partials/footer.mjml", "templates/weekly.txt"):
        path = store_settings.root / relative
        path.write_text(path.read_text().replace("This issue was sent to", "Hello {{ subscriber.name }}, this issue was sent to"))
    rows = "".join(f"r{i}@example.com,Reader {i},weekly\n" for i in range(1200))
    (store_settings.root / "people.csv").write_text(f"email,name,lists\n{rows}huge@example.com,{'€' * 1000},weekly\n")
    assert import_csv(store_settings.root / "people.csv", store).counts.added == 1201
    store_settings.provider, store_settings.sendgrid_api_key, store_settings.sendgrid_host = "sendgrid", "good-key", standin.url
    summary = send_issue("2026-11-26-beanpole", store_settings, sleep=lambda s: None)
    assert (summary.sent, summary.failed, summary.counts) == (1201, 0, {"sent": 1201})
    assert standin.accepted_recipients == 1201
