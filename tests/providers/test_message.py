"""Messages as a mail client reads them: both parts, headers, a working unsubscribe link."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re

from newsletter.providers.message import MessageBuilder
from newsletter.providers.outbox import OutboxProvider

from ..conftest import EXAMPLE_ISSUE
from .conftest import recipient


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_message_is_multipart_alternative_text_first(mailing):
    message_id, raw = MessageBuilder(mailing).build(recipient())
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = parts[0].get_content(), parts[1].get_content()
    assert "https://thelongtake.example/unsubscribe/1.sig" in text
    assert 'href="https://thelongtake.example/unsubscribe/1.sig"' in html
    assert "ann1@example.com" in html and "__NL_" not in html + text
    assert msg["Message-ID"] == message_id and message_id.endswith("@thelongtake.example>")
    assert msg.defects == [] and all(p.defects == [] for p in parts)


def test_headers(mailing):
    _, raw = MessageBuilder(mailing).build(recipient(7, name="Zoë Ångström"))
    msg = parse(raw)
    assert msg["From"] == "The Long Take <letters@thelongtake.example>"
    assert str(msg["To"]) == "Zoë Ångström <ann7@example.com>"
    assert msg["Subject"] == mailing.subject
    assert msg["Reply-To"] == "editors@thelongtake.example"
    assert msg["List-Unsubscribe"] == (
        "<https://thelongtake.example/unsubscribe/7.sig>, "
        "<mailto:unsubscribe@thelongtake.example?subject=unsubscribe>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["X-Newsletter-Issue"] == EXAMPLE_ISSUE and msg["X-Newsletter-Subscriber"] == "7"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_date_has_a_numeric_zone_and_list_id_names_the_list(mailing):
    _, raw = MessageBuilder(mailing).build(recipient())
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    date = re.search(r"^Date: ([^\r\n]*)", head, re.M).group(1)
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}", date), date  # RFC 5322 §3.3
    assert "GMT" not in date
    msg = email.message_from_bytes(raw, policy=email.policy.strict)
    assert msg["Date"].datetime.tzinfo is not None
    assert msg["List-Id"] == "The Long Take <the-long-take.thelongtake.example>"
    assert msg.defects == []


def test_list_id_label_comes_from_the_setting():
    from newsletter.providers.message import list_id

    assert list_id("The Long Take <letters@thelongtake.example>", "weekly.thelongtake.example") == (
        "The Long Take <weekly.thelongtake.example>")
    assert list_id("letters@thelongtake.example") == "<newsletter.thelongtake.example>"


def test_outbox_writes_a_maildir_a_mail_client_can_read(mailing, tmp_path):
    with OutboxProvider(tmp_path / "outbox") as outbox:
        results = outbox.send(mailing, [recipient(1), recipient(2)])
    assert [r.ok for r in results] == [True, True]
    box = mailbox.Maildir(tmp_path / "outbox", factory=None, create=False)
    messages = sorted((parse(m.as_bytes()) for m in box), key=lambda m: str(m["To"]))
    assert [str(m["To"]) for m in messages] == ["Ann Lee <ann1@example.com>", "Ann Lee <ann2@example.com>"]
    assert {m["Message-ID"] for m in messages} == {r.message_id for r in results}
    body = messages[1].get_body(("html",)).get_content()
    assert "https://thelongtake.example/unsubscribe/2.sig" in body


def test_eight_bit_parts_fold_long_lines_without_changing_the_html(mailing):
    from newsletter.providers.message import MAX_LINE

    _, raw = MessageBuilder(mailing).build(recipient(), eight_bit=True)
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
    msg = parse(raw)
    html_part = msg.get_body(("html",))
    assert html_part["Content-Transfer-Encoding"] == "8bit"
    html = html_part.get_content()
    expected = mailing.rendered.personalize(recipient().values())[0]
    # Only spaces became line breaks, between attributes or in text: the same document.
    assert html.replace("\r\n", "\n").replace("\n", " ") == expected.replace("\n", " ")
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == mailing.rendered.personalize(recipient().values())[1]


def test_fold_html_breaks_only_between_attributes_or_in_text():
    from newsletter.providers.message import fold_html

    tag = b'<td style="font-family:\'Times New Roman\', serif; color:red" align="left">'
    line = tag * 30
    folded = fold_html(line, limit=200)
    assert all(len(part) <= 200 for part in folded.split(b"\r\n"))
    assert folded.replace(b"\r\n", b" ") == line
    for part in folded.split(b"\r\n")[:-1]:
        assert part.endswith(b'serif; color:red"') or part.endswith(b"<td")  # never inside quotes
    text = b"<p>" + b"word " * 100 + b"</p>"
    assert fold_html(text, limit=120) is None  # text breaks not allowed: the caller falls back to base64
    assert fold_html(text, text_breaks=True, limit=120).replace(b"\r\n", b" ") == text


def test_base64_when_eight_bit_is_not_possible(mailing):
    _, raw = MessageBuilder(mailing).build(recipient(), eight_bit=False)
    msg = parse(raw)
    assert {p["Content-Transfer-Encoding"] for p in msg.iter_parts()} == {"base64"}


def test_long_values_are_folded_again_for_that_recipient(mailing):
    from newsletter.providers.message import MAX_LINE

    mailing.rendered.html = mailing.rendered.html.replace("This issue was sent to", "Dear __NL_SUBSCRIBER_NAME__, sent to")
    long_name = "Ann " + "Lee-" * 240  # ~960 characters, on a line that already holds other text
    _, raw = MessageBuilder(mailing).build(recipient(name=long_name), eight_bit=True)
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
    html = parse(raw).get_body(("html",)).get_content()
    assert f"Dear {long_name}, sent to" in html.replace("\r\n", " ").replace("\n", " ")


def test_long_and_non_ascii_names_fold_with_crlf_only(mailing):
    for name in ("é" * 600, "A" * 1000, "Lee, Ann \"The Critic\"", "Dan\r\nBcc: evil@example.com"):
        _, raw = MessageBuilder(mailing).build(recipient(name=name), eight_bit=True)
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert b"\n" not in head.replace(b"\r\n", b"")  # no bare LF
        assert max(len(line) for line in head.split(b"\r\n")) <= 998
        to_lines = head.split(b"\r\nTo: ")[1].split(b"\r\n")
        assert all(len(line) <= 78 for line in to_lines[:1] + [x for x in to_lines[1:] if x.startswith(b" ")])
        to = parse(raw)["To"]
        assert to.addresses[0].addr_spec == "ann1@example.com"
        # RFC 2047 decoding (the email package's new parser adds spaces between encoded words).
        from email.header import decode_header, make_header

        expected = " ".join(name.split())
        if expected.isascii() and len(expected) <= 60:
            assert to.addresses[0].display_name == expected
        else:
            raw_to = email.message_from_bytes(raw, policy=email.policy.compat32)["To"]
            assert str(make_header(decode_header(raw_to))) == f"{expected} <ann1@example.com>"
        assert "Bcc" not in parse(raw) and parse(raw)["Bcc"] is None


def test_long_subjects_fold(mailing):
    mailing.subject = "A subject that goes on " * 10
    _, raw = MessageBuilder(mailing).build(recipient())
    head = raw.split(b"\r\n\r\n", 1)[0]
    subject = head.split(b"Subject: ")[1].split(b"\r\n")
    assert len(b"Subject: " + subject[0]) <= 78 and all(len(x) <= 78 for x in subject[1:] if x.startswith(b" "))
    assert parse(raw)["Subject"] == " ".join(mailing.subject.split())


def test_fold_html_never_breaks_comments_or_css_strings():
    from newsletter.providers.message import fold_html

    comment = b"<!--[if mso | IE]><table role=\"presentation\" border=\"0\"><tr><td><![endif]-->"
    line = b"<div>" + comment * 20 + b"</div>"
    folded = fold_html(line, text_breaks=True, limit=150)
    assert folded is None or all(comment in part or b"<!--" not in part for part in folded.split(b"\r\n"))
    css = b"<style>" + b".a { color: #000 } " * 20 + b".b { font-family: 'Open Sans' } " + b".c { margin: 0 } " * 20 + b"</style>"
    folded = fold_html(css, text_breaks=True, limit=200)
    assert folded is not None and b"'Open Sans'" in folded
    assert folded.replace(b"\r\n", b" ") == css
    assert fold_html(b"<style>" + b".a{color:#000}" * 30 + b"</style>", text_breaks=True, limit=200) is None  # no space


def test_a_value_too_long_to_fold_falls_back_to_base64(mailing):
    mailing.rendered.text = mailing.rendered.text.replace("This issue was sent to", "Hi __NL_SUBSCRIBER_NAME__, sent to")
    name = "é" * 600  # one word of 1200 bytes: no line break can make it fit
    _, raw = MessageBuilder(mailing).build(recipient(name=name), eight_bit=True)
    msg = parse(raw)
    assert msg.get_body(("plain",))["Content-Transfer-Encoding"] == "base64"
    assert f"Hi {name}, sent to" in msg.get_body(("plain",)).get_content()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
