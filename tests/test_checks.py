"""``newsletter check``: each pre-send problem is found, and the example issue has none."""

from __future__ import annotations

import dataclasses
import json

import pytest

from newsletter.checks import check_rendered
from newsletter.issue import load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE, run_cli


@pytest.fixture
def rendered(settings, publication):
    return render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)


def problems(rendered, **changes) -> list[str]:
    return [p.message for p in check_rendered(dataclasses.replace(rendered, **changes))]


def test_example_issue_passes(rendered):
    assert problems(rendered) == []


def test_html_over_100_kb(rendered):
    big = rendered.html.replace("</body>", "<p>" + "x" * 110_000 + "</p></body>")
    assert any("Gmail clips messages over ~102 KB" in m for m in problems(rendered, html=big))


def test_style_block_over_16_kb(rendered):
    html = rendered.html.replace("</head>", "<style>" + ".a{color:red}" * 1500 + "</style></head>")
    assert any("<style> block" in m and "over 16 KB" in m for m in problems(rendered, html=html))


def test_image_without_alt(rendered):
    html = rendered.html.replace("</body>", '<img src="https://x.example/i.png"></body>')
    assert "image without alt text: https://x.example/i.png" in problems(rendered, html=html)


def test_missing_preheader_and_long_subject(rendered):
    issue = dataclasses.replace(rendered.issue, preheader="", subject="s" * 101)
    found = problems(rendered, issue=issue)
    assert any(m.startswith("no preheader") for m in found)
    assert "subject is 101 characters: keep it to 100 or fewer" in found


@pytest.mark.parametrize("href", ["/relative", "javascript:alert(1)", "#top", "ftp://x.example/f", ""])
def test_link_not_absolute_http(rendered, href):
    html = rendered.html.replace("</body>", f'<a href="{href}">x</a></body>')
    text = rendered.text + href
    assert any("link is not an absolute http(s) URL" in m for m in problems(rendered, html=html, text=text))


@pytest.mark.parametrize("leftover", ["{{ item.title }}", "{% endif %}", "<mj-text>", "</mj-column>"])
def test_leftover_template_or_mjml_markup(rendered, leftover):
    html = rendered.html.replace("</body>", f"<p>{leftover}</p></body>")
    assert any("leftover template or MJML markup" in m for m in problems(rendered, html=html))


def test_unknown_placeholder(rendered):
    html = rendered.html.replace("</body>", "<p>__NL_SUBSCRIBER_SHOE_SIZE__</p></body>")
    assert "email HTML: unknown placeholder __NL_SUBSCRIBER_SHOE_SIZE__" in problems(rendered, html=html)


def test_text_part_missing_a_link(rendered):
    html = rendered.html.replace("</body>", '<a href="https://only-in-html.example/">x</a></body>')
    assert "text part is missing a link: https://only-in-html.example/" in problems(rendered, html=html)


def test_missing_unsubscribe_link(rendered):
    text = rendered.text.replace("__NL_UNSUBSCRIBE_URL__", "")
    assert "text part: no unsubscribe link" in problems(rendered, text=text)


def test_mjml_python_escapes_in_attributes(rendered):
    html = rendered.html.replace("</body>", '<img alt="a\\u{200d}b" src="https://x.example/i.png"></body>')
    assert any("attribute escaped by mjml-python" in m for m in problems(rendered, html=html))


def test_check_command_exit_codes(publication):
    ok = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok: no problems found" in ok.stdout
    issue = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    issue.write_text(issue.read_text().replace("preheader:", "# preheader:").replace(
        'subject: "Balagov', 'subject: "' + "Very " * 20 + "Balagov"))
    bad = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    assert lines[-1] == "2 problems"
    assert lines[0].startswith("issues/2026-11-26-beanpole.yaml: no preheader")
    assert lines[1].startswith("issues/2026-11-26-beanpole.yaml: subject is 143 characters")


def test_build_writes_the_four_files_and_a_manifest(publication):
    result = run_cli("build", EXAMPLE_ISSUE, "--out", "out", cwd=publication)
    assert result.returncode == 0, result.stderr
    out = publication / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "email.html", "email.txt", "images", "manifest.json", "preview.html", "web.html"]
    # The preview copy: a sample subscriber filled in, the site's images copied beside it.
    preview = (out / "preview.html").read_text()
    assert "__NL_" not in preview and "reader@example.com" in preview
    assert 'src="images/beanpole-header.jpg"' in preview and "https://thelongtake.example/images/" not in preview
    assert (out / "images" / "beanpole-header.jpg").read_bytes() == (publication / "articles/images/beanpole-header.jpg").read_bytes()
    assert "__NL_SUBSCRIBER_EMAIL__" in (out / "email.html").read_text()  # the sender's copy keeps its placeholders
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["issue"] == EXAMPLE_ISSUE
    assert manifest["subject"].startswith("Balagov on Beanpole")
    assert [a["slug"] for a in manifest["articles"]] == [
        "balagov-beanpole", "cranes-are-flying-restoration", "wings-shepitko", "northern-lights-film-week"]
    assert {i["excerpt"]["kind"] for i in manifest["items"]} == {"paragraphs", "quote", "qa", "words", "text"}
    assert "__NL_UNSUBSCRIBE_URL__" in manifest["links"]
    import hashlib
    for name in ("email.html", "email.txt", "web.html"):
        data = (out / name).read_bytes()
        assert manifest["files"][name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_remote_stylesheet_is_not_fetched_and_is_reported(rendered):
    # the inliner loads no remote stylesheet: nothing is fetched while inlining ...
    html = rendered.html.replace("</head>", '<link rel="stylesheet" href="https://fonts.example/f.css"></head>')
    # ... and the check says the stylesheet would be ignored by most clients.
    assert "email HTML loads a remote stylesheet, which most email clients ignore: https://fonts.example/f.css" in problems(rendered, html=html)
