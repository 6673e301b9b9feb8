"""The built email and the preview page in real headless Chromium (Debian's, never a download)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from newsletter.commands.build import build
from newsletter.commands.preview import serve

from .conftest import EXAMPLE_ISSUE

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


def serve_site_images(page, articles: Path) -> None:
    """Answer the site's image URLs from the articles folder; refuse every other network request."""

    def handle(route):
        url = route.request.url
        match = re.match(r"https://thelongtake\.example/(images/[\w.-]+)$", url)
        if match and (articles / match.group(1)).is_file():
            route.fulfill(path=str(articles / match.group(1)))
        elif url.startswith(("file:", "http://127.0.0.1")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", handle)


@pytest.mark.parametrize("width", [375, 600])
def test_email_fits_the_screen_hides_the_preheader_and_describes_every_image(browser, settings, publication, width):
    result = build(EXAMPLE_ISSUE, settings, publication / "out")
    page = browser.new_page(viewport={"width": width, "height": 800})
    serve_site_images(page, publication / "articles")
    page.goto(result.files["email.html"].as_uri())
    page.wait_for_load_state("load")

    overflow = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName + '.' + el.className);
        return {scroll: document.documentElement.scrollWidth, width, wide};
    }""")
    assert overflow["scroll"] <= width, overflow
    assert overflow["wide"] == [], overflow

    preheader = page.locator("div.preheader")
    assert preheader.text_content().strip() == result.rendered.issue.preheader
    assert not preheader.is_visible()

    images = page.evaluate("() => [...document.images].map(i => [i.getAttribute('alt'), i.naturalWidth, i.getBoundingClientRect().width])")
    assert images, "the example issue shows images"
    for alt, natural, shown in images:
        assert alt and alt.strip()
        assert natural > 0  # it loaded
        assert shown <= width
    body_text = page.locator("body").inner_text()
    assert "What book impressed you the most?" in body_text
    page.close()


def test_phone_layout_is_narrower_than_desktop(browser, settings, publication):
    result = build(EXAMPLE_ISSUE, settings, publication / "out")
    widths = {}
    for width in (375, 600):
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(result.files["email.html"].as_uri())
        widths[width] = page.evaluate("() => document.querySelector('.title.lead').getBoundingClientRect().width")
        page.close()
    assert widths[375] < 375 - 40 < widths[600]


def test_preview_copy_opens_from_disk_with_every_image_and_a_sample_reader(browser, settings, publication):
    result = build(EXAMPLE_ISSUE, settings, publication / "out")
    page = browser.new_page(viewport={"width": 600, "height": 800})
    requested = []
    page.route("**/*", lambda route: (requested.append(route.request.url), route.continue_()
                                      if route.request.url.startswith("file:") else route.abort()))
    page.goto((publication / "out" / "preview.html").as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("() => [...document.images].map(i => [i.currentSrc, i.complete && i.naturalWidth > 0])")
    assert images and all(loaded for _, loaded in images), images
    assert all(url.startswith("file:") for url in requested)  # nothing fetched from the web
    assert "This issue was sent to reader@example.com" in page.locator("body").inner_text()
    assert "__NL_" not in page.content()
    page.close()


@pytest.fixture
def preview(settings, publication):
    server = serve(EXAMPLE_ISSUE, settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def touch_later(path: Path, text: str) -> None:
    """Write, making sure the modification time moves even on coarse clocks."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    while path.stat().st_mtime_ns == before:
        time.sleep(0.01)
        path.write_text(text, encoding="utf-8")


def test_preview_shows_both_widths_and_the_text_and_follows_edits(browser, preview, publication):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(preview)
    page.wait_for_function("() => document.getElementById('text').textContent.includes('Links:')")
    assert page.locator("#desktop").get_attribute("width") == "600"
    assert page.locator("#phone").get_attribute("width") == "375"
    phone = page.frame_locator("#phone")
    assert "Balagov" in phone.locator(".title.lead").inner_text()
    assert "reader@example.com" in page.locator("#text").text_content()  # filled with a sample recipient

    article = publication / "articles" / "wings-shepitko.md"
    touch_later(article, article.read_text().replace("title: \"Grounded:", "title: \"Aloft:"))
    page.wait_for_function("() => document.getElementById('text').textContent.includes('Aloft:')", timeout=10_000)
    page.frame_locator("#desktop").locator("text=Aloft:").wait_for(timeout=10_000)

    issue = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    good = issue.read_text()
    touch_later(issue, good.replace("subject:", "subjekt:"))
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=10_000)
    assert error.text_content().startswith("issues/2026-11-26-beanpole.yaml:2: subjekt: unknown key")

    touch_later(issue, good)
    error.wait_for(state="hidden", timeout=10_000)
    page.close()
