"""The inbox-quality checks: contrast in four schemes, image files, headings, header-bound settings.

Each check is shown to catch the defect it exists for (most of them were in the first weekly theme),
and both themes pass them all.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import pytest

from newsletter.audit.colors import client_inverted, contrast, parse_color
from newsletter.audit.contrast import describe, low_contrast
from newsletter.audit.headings import heading_problems
from newsletter.audit.sender import aligned, sender_problems
from newsletter.checks import check_rendered
from newsletter.config import load_settings
from newsletter.issue import load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE, run_cli, write_issue

LETTER_ISSUE = "2026-12-03-wings"


def render(settings, publication, name=EXAMPLE_ISSUE):
    return render_issue(load_issue(publication / "issues" / f"{name}.yaml", settings), settings)


@pytest.mark.parametrize("name", [EXAMPLE_ISSUE, LETTER_ISSUE])
def test_both_themes_pass_every_check(settings, publication, name):
    rendered = render(settings, publication, name)
    assert [p.message for p in check_rendered(rendered)] == []
    assert low_contrast(rendered.html) == []


@pytest.mark.parametrize("name", [EXAMPLE_ISSUE, LETTER_ISSUE])
def test_each_theme_keeps_its_contract(settings, publication, name):
    from newsletter.render import TOKENS
    from newsletter.render.mjml import lint

    rendered = render(settings, publication, name)
    for part in (rendered.html, rendered.text):
        assert TOKENS["unsubscribe_url"] in part and TOKENS["preferences_url"] in part
        assert rendered.issue.id in part and f"/archive/{rendered.issue.id}/" in part  # the web version
    assert '<meta name="color-scheme" content="light dark"' in rendered.html
    assert "@media (prefers-color-scheme: dark)" in rendered.html and "[data-ogsc]" in rendered.html
    assert re.search(r'<html[^>]*lang="en"', rendered.html)
    assert lint(rendered.mjml) == []
    assert "__NL_" not in rendered.web_html


# --- colours and contrast ---------------------------------------------------------------------


def test_colour_values_and_wcag_contrast():
    assert parse_color("#FFF") == (255, 255, 255)
    assert parse_color("background:#a4442b url(x.png)") == (164, 68, 43)
    assert parse_color("rgb(10, 20, 30)") == (10, 20, 30)
    assert parse_color("rgba(0,0,0,0)") is None and parse_color("transparent") is None
    assert round(contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast((0x1d, 0x1d, 0x1b), (0x26, 0x25, 0x22)), 1) == 1.1  # the old dark mode
    # An inverting client darkens light backgrounds and lightens dark text, and leaves the rest.
    assert client_inverted((255, 255, 255), background=True) == (0, 0, 0)
    assert client_inverted((0x2f, 0x5d, 0x50), background=True) == (0x2f, 0x5d, 0x50)
    assert client_inverted((0, 0, 0), background=False) == (255, 255, 255)


DARK_LOSES = """<html><head><style>
@media (prefers-color-scheme: dark) {
  body { background-color: #262522 !important; }
  .item { color: #ece8e1 !important; }
}
</style></head><body style="background-color:#ffffff">
<table><tr><td class="item" style="color:#1d1d1b"><div style="color:#1d1d1b">Article text</div></td></tr></table>
<div style="display:none;color:#ffffff">A preheader</div>
</body></html>"""


def test_a_dark_rule_on_the_cell_loses_to_the_colour_inlined_on_its_div():
    found = describe(low_contrast(DARK_LOSES))
    assert any(m.startswith("dark mode (prefers-color-scheme): text #1d1d1b on #262522 has contrast 1.1:1")
               and "Article text" in m for m in found), found
    assert any("hidden text #ffffff on #ffffff" in m and "SpamAssassin" in m for m in found), found
    fixed = DARK_LOSES.replace(".item {", ".item div {").replace("color:#ffffff\">A", "color:#1d1d1b\">A")
    assert low_contrast(fixed) == []


def test_important_rules_beat_inline_colours_and_specificity_decides_between_rules():
    html = """<html><head><style>@media (prefers-color-scheme: dark) {
      body, .page { background-color: #151412 !important; }
      .ink .title a { color: #ece8e1 !important; }
      .ink a { color: #2a2a2a !important; }
    }</style></head><body style="background-color:#ffffff"><div class="page" style="background-color:#f4f1ea">
    <div class="ink"><h3 class="title"><a style="color:#1d1d1b">A title</a></h3></div>
    </div></body></html>"""
    assert low_contrast(html) == []  # the more specific rule wins, though the other comes later
    losing = html.replace(".ink .title a {", ".title {")  # the link's own colour now wins over its h3's
    assert [(p.scheme, p.sample) for p in low_contrast(losing)] == [("dark", "A title")]


def test_inverting_clients_and_outlook_com():
    html = """<html><head><style>{extra}</style></head><body style="background-color:#ffffff">
    <p style="color:#0000ff">Blue on white</p></body></html>"""
    plain = low_contrast(html.format(extra=""))
    # Pure blue keeps its lightness when inverted: on the black an inverting client gives it, it fades.
    assert {p.scheme for p in plain} == {"inverted", "outlook.com"}
    twin = low_contrast(html.format(extra="[data-ogsc] p { color: #8ab4ff !important; }"))
    assert {p.scheme for p in twin} == {"inverted"}  # Outlook.com takes our colour; Gmail cannot


def test_large_text_needs_three_to_one():
    html = '<html><body style="background:#ffffff"><p style="color:#888888;font-size:{}">Grey</p></body></html>'
    assert low_contrast(html.format("24px")) == []  # 3.5:1 is enough at 24 px
    assert {(p.scheme, p.needed) for p in low_contrast(html.format("16px"))} == {("light", 4.5), ("dark", 4.5)}


# --- images -----------------------------------------------------------------------------------


def test_missing_and_small_image_files(settings, publication):
    images = publication / "articles" / "images"
    (images / "wings-shepitko.jpg").unlink()
    from PIL import Image

    Image.new("RGB", (400, 225), "gray").save(images / "cranes-are-flying-restoration.jpg")
    found = [p.message for p in check_rendered(render(settings, publication))]
    assert "image file missing: articles/images/wings-shepitko.jpg (for https://thelongtake.example/images/wings-shepitko.jpg)" in found
    assert ("image articles/images/cranes-are-flying-restoration.jpg is 400 px wide but shown 156 px wide: "
            "give it at least 312 px, or it looks blurred on high-density screens") not in found  # 400 ≥ 312
    Image.new("RGB", (300, 169), "gray").save(images / "cranes-are-flying-restoration.jpg")
    found = [p.message for p in check_rendered(render(settings, publication))]
    assert ("image articles/images/cranes-are-flying-restoration.jpg is 300 px wide but shown 156 px wide: "
            "give it at least 312 px, or it looks blurred on high-density screens") in found


def test_check_command_reports_a_missing_image(publication):
    (publication / "articles" / "images" / "beanpole-2.jpg").unlink()
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 1
    assert "issues/2026-11-26-beanpole.yaml: image file missing: articles/images/beanpole-2.jpg" in result.stdout


# --- headings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("html,message", [
    ("<h2>Section</h2><h2>Story</h2>", "no h1"),
    ("<h1>A</h1><h1>B</h1>", "2 h1 headings (A, B): keep one"),
    ("<h2>Kicker</h2><h1>Name</h1>", "the first heading is an h2 (“Kicker”), before the h1"),
    ("<h1>Name</h1><h3>Story</h3>", "heading h3 “Story” follows an h1: a level is skipped"),
])
def test_heading_order(html, message):
    assert any(message in m for m in heading_problems(html)), heading_problems(html)
    assert heading_problems("<h1>Name</h1><h2>Section</h2><h3>Story</h3><h2>Next</h2><h3>Story</h3>") == []


def test_a_section_without_heading_titles_its_stories_h2(settings, publication):
    write_issue(publication, "subject: S\nsections:\n  - items:\n      - article: wings-shepitko\n")
    rendered = render_issue(load_issue(publication / "issues" / "test-issue.yaml", settings), settings)
    assert heading_problems(rendered.html) == []
    assert re.search(r'<h2 class="title lead"[^>]*><a [^>]*>Grounded', rendered.html)


# --- settings that go into headers ------------------------------------------------------------


def test_dkim_alignment():
    assert aligned("thelongtake.example", "thelongtake.example")
    assert aligned("mail.thelongtake.example", "thelongtake.example")
    assert aligned("thelongtake.example", "news.thelongtake.example")
    assert not aligned("sendgrid.net", "thelongtake.example")
    assert not aligned("longtake.example", "thelongtake.example")  # a suffix, but not a parent domain


def test_header_bound_settings(publication):
    """Malformed header-bound settings are refused when settings load (issue 9 §4); what is well
    formed but undeliverable (DKIM not aligned with From) is a check problem."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from newsletter.errors import InputError

    toml = publication / "newsletter.toml"
    original = toml.read_text()
    malformed = "\n".join(['dkim_selector = "s1"', 'unsubscribe_mailto = "Unsub <u@thelongtake.example>"',
                           'list_id = "not a label"', ""])
    toml.write_text(malformed + original.replace('base_url = "https://', 'base_url = "http://'))
    with pytest.raises(InputError) as refused:
        load_settings(toml, env={})
    assert [line.split(": ", 2)[1] for line in refused.value.lines()] == [
        "dkim_selector", "unsubscribe_mailto", "list_id", "base_url"]

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (publication / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    toml.write_text('dkim_selector = "s1"\ndkim_domain = "sendgrid.net"\ndkim_key_file = "dkim.pem"\n' + original)
    assert sender_problems(load_settings(toml, env={})) == [
        "dkim_domain 'sendgrid.net' does not align with the From domain 'thelongtake.example': Gmail and Yahoo "
        "require DMARC alignment (sign with the From domain or a parent or subdomain of it)",
    ]
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 1 and "newsletter.toml: dkim_domain 'sendgrid.net' does not align" in result.stdout


def test_a_local_base_url_may_be_http(settings):
    assert sender_problems(dataclasses.replace(settings, base_url="http://127.0.0.1:8000")) == []
    assert sender_problems(dataclasses.replace(settings, from_address="newsletter@localhost")) == [
        "from: 'newsletter@localhost' is not one address with a domain (the From header)"]


# --- the postal address and the preheader are part of a theme's contract ------------------------


def test_theme_must_show_the_postal_address_and_the_preheader(settings, publication):
    rendered = render(settings, publication)
    html = rendered.html.replace("41 Example Street", "").replace(rendered.issue.preheader, "")
    found = [p.message for p in check_rendered(dataclasses.replace(rendered, html=html))]
    assert "email HTML: no postal address (required in commercial email, e.g. CAN-SPAM)" in found
    assert "email HTML: the preheader is missing: the theme must show issue.preheader (hidden)" in found


# --- SpamAssassin, when installed ---------------------------------------------------------------


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="needs spamassassin (apt-get install -y spamassassin)")
@pytest.mark.parametrize("name", [EXAMPLE_ISSUE, LETTER_ISSUE])
def test_spamassassin_scores_every_outbox_message_zero(publication, name):
    import mailbox

    from .conftest import REPO

    assert run_cli("subscribers", "import", str(REPO / "subscribers" / "example.csv"), cwd=publication).returncode == 0
    sent = run_cli("send", name, "--now", cwd=publication)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    messages = [m.as_bytes() for m in mailbox.Maildir(publication / "outbox", create=False)]
    assert len(messages) >= 5
    for message in messages:  # each carries its own unsubscribe token, so each is scored
        report = subprocess.run(["spamassassin", "-t", "-L"], input=message, capture_output=True, timeout=120)
        details = report.stdout.decode().split("Content analysis details:", 1)[1]
        rules = {line.split()[1]: float(line.split()[0]) for line in details.splitlines()
                 if re.match(r"^ *-?\d+\.\d+ [A-Z0-9_]+ ", line)}
        # The two informational rules about a message that never crossed a relay do not count.
        counted = {rule: score for rule, score in rules.items() if rule not in ("NO_RECEIVED", "NO_RELAYS")}
        assert "HTML_MESSAGE" in rules and sum(counted.values()) == 0, details
