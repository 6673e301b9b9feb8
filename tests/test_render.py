"""Rendering: the MJML and CSS-inlining traps, placeholders, the text part, UTM links."""

from __future__ import annotations

import re

import pytest
from mjml import mjml2html

from newsletter.errors import RenderError
from newsletter.issue import load_issue
from newsletter.render import TOKENS, recipient_values, render_issue
from newsletter.render.mjml import compile_mjml, inline_css, lint, single_line_attributes

from .conftest import EXAMPLE_ISSUE, run_cli


@pytest.fixture
def rendered(settings, publication):
    return render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)


def wrap(body: str) -> str:
    return f"<mjml><mj-body><mj-section><mj-column>{body}</mj-column></mj-section></mj-body></mjml>"


# --- mjml-python copies unknown elements and renders invalid nesting: we lint -----------------


def test_mjml_python_itself_copies_unknown_elements():
    assert "<mj-foo>" in mjml2html(wrap("<mj-foo>x</mj-foo>"))  # the trap the linter exists for


@pytest.mark.parametrize("mjml,message", [
    (wrap("<mj-foo>x</mj-foo>"), "unknown MJML element <mj-foo>"),
    ("<mjml><mj-body><mj-section><mj-text>x</mj-text></mj-section></mj-body></mjml>", "<mj-text> is not allowed inside <mj-section>"),
    (wrap("<mj-text><mj-image src='x' /></mj-text>"), "<mj-image> inside <mj-text>"),
    (wrap("<mj-text>x"), "<mj-text> is not closed before </mj-column>"),
    (wrap("<p>loose</p>"), "HTML <p> directly inside <mj-column>"),
    (wrap('<mj-image src="x" alt="two\nlines" />'), "attribute alt of <mj-image> spans lines"),
    (wrap('<mj-image src="x" alt="a" padding="0 24px" />'), 'padding="0 24px" on <mj-image>: mjml-python drops'),
    (wrap('<mj-text padding="8px 24px 0">x</mj-text>'), 'padding="8px 24px 0" on <mj-text>'),
    (wrap('<mj-button inner-padding="0 10px">x</mj-button>'), 'inner-padding="0 10px"'),
    ("<mjml><mj-head><mj-attributes><mj-all padding-left=\"0\" /></mj-attributes></mj-head></mjml>", 'padding-left="0" on <mj-all>'),
])
def test_lint_catches_what_mjml_python_lets_through(mjml, message):
    problems = lint(mjml)
    assert any(message in text for _, text in problems), problems


def test_lint_accepts_the_example_theme(rendered):
    assert lint(rendered.mjml) == []
    assert lint(wrap('<mj-image src="x" alt="a" padding="0px 24px 10.0px" />')) == []


@pytest.mark.parametrize("padding,width", [("0 24px", "600"), ("0px 24px", "552")])
def test_mjml_python_ignores_a_padding_with_a_bare_zero(padding, width):
    # The trap the lint guards against: Outlook sizes the image by this attribute.
    html = mjml2html(wrap(f'<mj-image src="x" alt="a" padding="{padding}" />'))
    assert re.search(r'<img[^>]*width="(\d+)"', html).group(1) == width


def test_unknown_element_in_the_theme_stops_the_build(publication):
    partial = publication / "templates" / "partials" / "group-card.mjml"
    partial.write_text(partial.read_text().replace("<mj-column>", "<mj-column><mj-sparkle>!</mj-sparkle>", 1))
    result = run_cli("build", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 2
    assert "templates/weekly.mjml: rendered MJML line" in result.stderr
    assert "unknown MJML element <mj-sparkle>" in result.stderr


def test_attribute_values_stay_single_line_and_unescaped():
    # mjml-python writes a newline in an attribute as a literal "\n" and a soft hyphen as "\u{ad}".
    raw = wrap('<mj-image src="https://x.example/a.jpg" alt="two\nlines, soft\u00adhyphen, zwj\u200d, back\\slash" />')
    assert "\\n" in mjml2html(raw) and "\\u{ad}" in mjml2html(raw)
    html = inline_css(compile_mjml(raw))
    alt = re.search(r'<img[^>]*alt="([^"]*)"', html).group(1)
    assert alt == "two lines, soft\u00adhyphen, zwj\u200d, back\\slash"
    assert single_line_attributes('<mj-text css-class="a\n b">x\ny</mj-text>') == '<mj-text css-class="a b">x\ny</mj-text>'


# --- CSS inlining ----------------------------------------------------------------------------


def test_inlining_keeps_important_in_media_queries_and_stays_offline():
    html = inline_css(compile_mjml(
        '<mjml><mj-head><mj-style>@media (max-width:480px) { .x { width: 100% !important; } }</mj-style></mj-head>'
        '<mj-body><mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section></mj-body></mjml>'
    ))
    assert re.search(r"@media[^{]*\{[^}]*\.mj-column-per-100\s*\{\s*width:\s*100%\s*!important", html)
    assert "width: 100% !important" in html
    assert "fonts.googleapis.com" not in html


def test_placeholders_survive_inside_href(rendered):
    # A {{ x }} placeholder came out of premailer as {{%20x%20}}; ours pass any inliner unchanged.
    assert f'href="{TOKENS["unsubscribe_url"]}"' in rendered.html
    assert f'href="{TOKENS["preferences_url"]}"' in rendered.html
    assert TOKENS["subscriber.email"] in rendered.html


def test_inlining_leaves_link_targets_as_written():
    out = inline_css('<html><body><a href="{{ unsubscribe_url }}">u</a></body></html>')
    assert 'href="{{ unsubscribe_url }}"' in out  # premailer wrote {{%20unsubscribe_url%20}}


# --- the rendered issue -----------------------------------------------------------------------


def test_email_has_lang_dark_mode_meta_preheader_and_600px_body(rendered):
    html = rendered.html
    assert re.search(r'<html[^>]*lang="en"', html)
    assert '<meta name="color-scheme" content="light dark"' in html
    assert '<meta name="supported-color-schemes" content="light dark"' in html
    assert html.lower().startswith("<!doctype html>")
    # The preheader is the first text of the body, hidden, and coloured like text, not like the
    # background (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    preheader = re.search(r"<body[^>]*>(?:\s*<div[^>]*>)?\s*<div class=\"preheader\" style=\"([^\"]*)\">([^<]*)</div>", html)
    assert preheader and preheader.group(2).strip() == rendered.issue.preheader
    assert "display:none" in preheader.group(1) and "color:#1d1d1b" in preheader.group(1)
    assert "color:#ffffff" not in html.split("<body", 1)[1][:400]
    assert "max-width:600px" in html.replace(" ", "")
    assert all(img["alt"] for img in rendered.images)


def test_personalization_fills_and_escapes(rendered):
    values = recipient_values("ann@example.com", "Ann <Lee>", "https://u.example/unsub?t=1&x=2", "https://u.example/prefs")
    html, text = rendered.personalize(values)
    assert "__NL_" not in html and "__NL_" not in text
    assert 'href="https://u.example/unsub?t=1&amp;x=2"' in html
    assert "https://u.example/unsub?t=1&x=2" in text
    assert "ann@example.com" in html and "ann@example.com" in text


def test_web_version_has_no_per_recipient_data(rendered):
    assert "__NL_" not in rendered.web_html
    assert "Unsubscribe" not in rendered.web_html
    assert "View this issue in your browser" not in rendered.web_html


def test_article_links_carry_utm_tags_per_slot(rendered):
    lead = "https://thelongtake.example/interviews/balagov-beanpole?utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-26-beanpole&utm_content=balagov-beanpole-1-1"
    assert lead in rendered.links
    assert any(link.endswith("utm_content=wings-shepitko-2-2") for link in rendered.links)
    # Links inside article text to other sites are left alone.
    assert "https://thelongtake.example/interviews/balagov-beanpole" in rendered.links


def test_text_part_is_built_from_content_and_lists_every_link(rendered):
    text = rendered.text
    for href in rendered.links:
        assert href in text
    assert "Q: What book impressed you the most?" in text
    assert "“cinema is a tool of immortality and for me this person doesn’t deserve\nimmortality”" in text
    assert "<" not in text.replace("<=", "")  # no markup leaks into the text part
    assert max(len(line) for line in text.splitlines() if "://" not in line) <= 76


def test_utm_tags_can_be_switched_off(publication):
    toml = publication / "newsletter.toml"
    toml.write_text(toml.read_text() + "enabled = false\n")
    from newsletter.config import load_settings
    settings = load_settings(toml, env={})
    rendered = render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)
    assert not any("utm_" in link for link in rendered.links)


def test_undefined_template_variable_names_the_template(publication, settings):
    partial = publication / "templates" / "partials" / "excerpt-qa.mjml"
    partial.write_text(partial.read_text().replace("{{ item.question_html }}", "{{ item.nonexistent }}"))
    with pytest.raises(RenderError) as err:
        render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)
    assert err.value.lines()[0].startswith("templates/partials/excerpt-qa.mjml:4: template error:")


def test_inlining_never_fetches_remote_stylesheets():
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1.5)
    port = listener.getsockname()[1]
    connections = []

    def accept():
        try:
            connections.append(listener.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    out = inline_css(f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">'
                     "<style>p { color: red }</style></head><body><p>x</p></body></html>")
    thread.join()
    listener.close()
    assert connections == []
    assert '<p style="color: red;">' in out
    assert f'href="http://127.0.0.1:{port}/x.css"' in out  # kept, for check to report
