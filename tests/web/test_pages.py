"""The readers' pages through the real app (SQLite and PostgreSQL): double opt-in, unsubscribe
(the one-click POST as Gmail sends it), preferences, bad links, and the forms' defences."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import text

from newsletter.web.guard import PER_ADDRESS, PER_CLIENT

from .conftest import BASE, add_reader, csrf_of, link_in, messages_to, outbox


def subscribe(client, email: str, name: str = "", lists=("weekly",), **extra):
    form = client.get("/subscribe")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), "email": email, "name": name, "lists": list(lists), **extra}
    return client.post("/subscribe", data=data)


def status_of(store, email: str) -> str | None:
    row = store.get_subscriber(email.lower())
    return row.status if row else None


def suppressed(store, email: str) -> bool:
    with store.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM suppressions WHERE email_hash = :h"),
                           {"h": store.hash(email.lower())}) == 1


def test_double_opt_in_from_form_to_confirmed(client, site_store, publication):
    answer = subscribe(client, "new.reader@example.com", "New Reader", lists=["weekly", "festival"])
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert status_of(site_store, "new.reader@example.com") == "pending"
    [mail] = messages_to(publication, "new.reader@example.com")
    assert mail["Subject"] == "Confirm your subscription to The Long Take"
    assert mail["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/")
    link = link_in(mail, "confirm")
    assert mail.get_body(preferencelist=("html",)).get_content().count(link) == 1  # the button

    page = client.get(link)  # what a link scanner does: nothing changes
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert status_of(site_store, "new.reader@example.com") == "pending"

    done = client.post(link)
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    row = site_store.get_subscriber("new.reader@example.com")
    assert (row.status, row.name, row.lists) == ("confirmed", "New Reader", ["festival", "weekly"])
    again = client.post(link)
    assert again.status_code == 200 and "You are subscribed" in again.text


def test_the_answer_never_tells_whether_an_address_is_known(client, site_store, publication):
    add_reader(site_store, "known@example.com", lists=["festival"])
    known = subscribe(client, "known@example.com", "Someone Else", lists=["weekly"])
    unknown = subscribe(client, "unknown@example.com", "Someone Else", lists=["weekly"])
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@example.com", "X") == unknown.text.replace("unknown@example.com", "X")
    # A confirmed address gets no new mail, and nobody can change it by typing it into the form.
    assert messages_to(publication, "known@example.com") == []
    row = site_store.get_subscriber("known@example.com")
    assert (row.status, row.name, row.lists) == ("confirmed", "", ["festival"])
    assert len(messages_to(publication, "unknown@example.com")) == 1


def test_a_form_without_a_valid_csrf_token_changes_nothing(client, site_store, publication):
    client.get("/subscribe")  # the cookie is set
    missing = client.post("/subscribe", data={"email": "a@example.com"})
    forged = client.post("/subscribe", data={"email": "a@example.com", "csrf": "x" * 60})
    other = client.get("/subscribe").text
    client.cookies.clear()
    client.get("/subscribe")  # a new cookie: the old page's token no longer matches
    stale = client.post("/subscribe", data={"email": "a@example.com", "csrf": csrf_of(other)})
    client.cookies.clear()
    no_cookie = client.post("/subscribe", data={"email": "a@example.com", "csrf": csrf_of(other)})
    for answer in (missing, forged, no_cookie):
        assert answer.status_code == 403 and "Reload the page" in answer.text
    assert stale.status_code == 403
    assert status_of(site_store, "a@example.com") is None and outbox(publication) == []


def test_the_honeypot_gets_the_ordinary_answer_and_nothing_else(client, site_store, publication):
    answer = subscribe(client, "bot@example.com", website="http://spam.example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert status_of(site_store, "bot@example.com") is None and outbox(publication) == []


def test_rate_limits_per_address_and_per_client(client, site_store, publication):
    per_address, _ = PER_ADDRESS
    answers = [subscribe(client, "target@example.com").status_code for _ in range(per_address + 2)]
    assert answers == [200] * per_address + [429, 429]
    assert len(messages_to(publication, "target@example.com")) == per_address  # nobody is mail-bombed

    per_client, _ = PER_CLIENT
    used = per_address + 2
    codes = [subscribe(client, f"r{i}@example.com").status_code for i in range(per_client - used + 1)]
    assert codes == [200] * (per_client - used) + [429]
    assert status_of(site_store, f"r{per_client - used}@example.com") is None


def test_html_in_the_name_is_shown_as_text(client, site_store, tokens):
    name = '<script>alert("x")</script><b>Bold</b>'
    subscribe(client, "html@example.com", name)
    row = site_store.get_subscriber("html@example.com")
    assert row.name == name  # stored as typed
    page = client.get(f"/preferences/{tokens.make('preferences', row.id, 'html@example.com')}")
    assert "<script>alert" not in page.text and "<b>Bold" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;Bold&lt;/b&gt;" in page.text


def test_a_bad_address_shows_the_form_again_with_the_reason(client, site_store):
    answer = subscribe(client, "not an <address>", "Ann")
    assert answer.status_code == 400
    assert "does not look like an email address" in answer.text and "not an &lt;address&gt;" in answer.text
    assert 'value="Ann"' in answer.text


def test_one_click_unsubscribe_exactly_as_gmail_sends_it(client, site_store, tokens):
    sid = add_reader(site_store, "reader@example.com")
    url = f"/unsubscribe/{tokens.make('unsubscribe', sid, 'reader@example.com')}"
    client.cookies.clear()
    page = client.get(url)
    assert page.status_code == 200 and "Unsubscribe</button>" in page.text
    assert status_of(site_store, "reader@example.com") == "confirmed"  # a GET changes nothing

    # RFC 8058: a POST with this body, no cookies, no CSRF token, nothing else.
    answer = client.post(url, content=b"List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert status_of(site_store, "reader@example.com") == "unsubscribed"
    assert suppressed(site_store, "reader@example.com")
    again = client.post(url, files={"List-Unsubscribe": (None, "One-Click")})  # multipart, as some send it
    assert again.status_code == 200 and status_of(site_store, "reader@example.com") == "unsubscribed"
    assert "You are unsubscribed" in client.get(url).text


@pytest.mark.parametrize("kind", ["forged", "tampered", "other purpose", "another reader", "garbage", "no such reader"])
def test_a_bad_link_is_a_plain_400_and_changes_nothing(client, site_store, tokens, kind):
    sid = add_reader(site_store, "reader@example.com")
    other = add_reader(site_store, "other@example.com")
    for path in ("unsubscribe", "preferences", "confirm"):
        good = tokens.make(path, sid, "reader@example.com")
        token = {
            "forged": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
            "tampered": f"{other}.{good.split('.', 1)[1]}",
            "other purpose": tokens.make("preferences" if path == "unsubscribe" else "unsubscribe", sid,
                                         "reader@example.com"),
            "another reader": tokens.make(path, sid, "other@example.com"),
            "garbage": "test",
            "no such reader": "0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        }[kind]
        for method in (client.get, client.post):
            answer = method(f"/{path}/{token}")
            assert answer.status_code == 400, (path, method)
            assert "This link does not work" in answer.text
    assert status_of(site_store, "reader@example.com") == status_of(site_store, "other@example.com") == "confirmed"


def test_an_expired_confirmation_link_is_refused(client, site_store, tokens):
    signup = site_store.subscribe("late@example.com", "late@example.com", "", [])
    old = tokens.make("confirm", signup.subscriber_id, "late@example.com", now=time.time() - 8 * 24 * 3600)
    answer = client.post(f"/confirm/{old}")
    assert answer.status_code == 400 and "expired" in answer.text
    assert status_of(site_store, "late@example.com") == "pending"


def test_a_confirmation_link_older_than_the_unsubscribe_cannot_bring_a_reader_back(client, site_store, tokens):
    signup = site_store.subscribe("back@example.com", "back@example.com", "", ["weekly"])
    link = f"/confirm/{tokens.make('confirm', signup.subscriber_id, 'back@example.com', now=time.time() - 60)}"
    assert client.post(link).status_code == 200
    client.post(f"/unsubscribe/{tokens.make('unsubscribe', signup.subscriber_id, 'back@example.com')}")
    refused = client.post(link)
    assert refused.status_code == 400 and "before you unsubscribed" in refused.text
    assert status_of(site_store, "back@example.com") == "unsubscribed"


def test_preferences_change_name_and_lists_or_leave(client, site_store, tokens):
    sid = add_reader(site_store, "pref@example.com", lists=["weekly", "board"], name="Old Name")
    url = f"/preferences/{tokens.make('preferences', sid, 'pref@example.com')}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="Old Name"' in page.text
    assert 'value="weekly" checked' in page.text and 'value="festival">' in page.text
    assert "board" not in page.text  # lists the site does not offer are not shown, nor touched

    refused = client.post(url, data={"name": "Evil", "lists": [], "action": "save"})
    assert refused.status_code == 403
    saved = client.post(url, data={"csrf": csrf_of(page.text), "name": " New\x00 Name ", "lists": ["festival", "nope"],
                                   "action": "save"})
    assert saved.status_code == 200 and "Saved." in saved.text
    row = site_store.get_subscriber("pref@example.com")
    assert (row.name, row.lists, row.status) == ("New Name", ["board", "festival"], "confirmed")

    left = client.post(url, data={"csrf": csrf_of(saved.text), "action": "leave"})
    assert left.status_code == 200 and "You are unsubscribed" in left.text
    assert status_of(site_store, "pref@example.com") == "unsubscribed"
    assert "You are unsubscribed" in client.get(url).text


def test_an_erased_address_comes_back_only_through_a_new_double_opt_in(client, site_store, publication):
    from newsletter.store import NewSubscriber

    add_reader(site_store, "gone@example.com")
    assert site_store.erase_subscriber("gone@example.com")
    assert suppressed(site_store, "gone@example.com")
    subscribe(client, "gone@example.com", "Back Again")
    assert status_of(site_store, "gone@example.com") == "pending"
    # An import meanwhile does not confirm them behind their back.
    counts = site_store.upsert_subscribers([NewSubscriber(email="gone@example.com", key="gone@example.com")])
    assert counts.kept_out == 1 and status_of(site_store, "gone@example.com") == "pending"
    client.post(link_in(messages_to(publication, "gone@example.com")[-1], "confirm"))
    assert status_of(site_store, "gone@example.com") == "confirmed"
    assert not suppressed(site_store, "gone@example.com")


def test_pages_carry_security_headers_and_no_script(client):
    page = client.get("/subscribe")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no scripts
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text
    assert client.get("/subscribe/", follow_redirects=False).headers["location"] == "../subscribe"


def test_an_unsubscribed_reader_comes_back_through_the_form(client, site_store, tokens, publication):
    sid = add_reader(site_store, "again@example.com", lists=["weekly"])
    client.post(f"/unsubscribe/{tokens.make('unsubscribe', sid, 'again@example.com')}")
    subscribe(client, "again@example.com", lists=["festival"])
    assert status_of(site_store, "again@example.com") == "unsubscribed"  # until they confirm
    client.post(link_in(messages_to(publication, "again@example.com")[-1], "confirm"))
    row = site_store.get_subscriber("again@example.com")
    assert (row.status, row.lists) == ("confirmed", ["festival", "weekly"])
    assert not suppressed(site_store, "again@example.com")


def test_the_confirmation_email_goes_through_sendgrid_too(client, site_settings, site_store):
    from ..standins.sendgrid import SendGridStandIn

    with SendGridStandIn(api_key="k") as standin:
        site_settings.provider, site_settings.sendgrid_api_key, site_settings.sendgrid_host = "sendgrid", "k", standin.url
        subscribe(client, "grid@example.com")
        [copy] = standin.delivered
    sid = site_store.get_subscriber("grid@example.com").id
    assert copy.email == "grid@example.com" and copy.custom_args == {"issue": "_confirm", "subscriber": str(sid)}
    assert "grid@example.com" in copy.text and "__NL_" not in copy.text + copy.html
    link = re.search(r"https://testserver/confirm/\S+", copy.text).group(0)
    assert f'href="{link}"' in copy.html
    assert client.post(link).status_code == 200
    assert status_of(site_store, "grid@example.com") == "confirmed"
