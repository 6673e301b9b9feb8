"""``newsletter publish``: the static archive as a user makes it, served by a plain static HTTP server
and read in real headless Chromium (Debian's, never a download)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ..conftest import EXAMPLE_ISSUE, run_cli
from ..test_browser import CHROMIUM, browser  # noqa: F401  (a fixture)

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def static_host():
    """A static file server on loopback (the folder is set once the site is written)."""
    holder = {}

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(holder["folder"]), **kwargs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def publish_example(publication: Path, base_url: str) -> Path:
    (publication / "subscribers").mkdir(exist_ok=True)
    (publication / "subscribers" / "few.csv").write_text("email,lists\na@example.com,weekly\n", encoding="utf-8")
    assert run_cli("subscribers", "import", "subscribers/few.csv", cwd=publication).returncode == 0
    assert run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication).returncode == 0
    toml = publication / "newsletter.toml"
    toml.write_text(toml.read_text().replace('base_url = "https://thelongtake.example"', f'base_url = "{base_url}"'))
    result = run_cli("publish", "--out", "site", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert "1 issue" in result.stdout
    return publication / "site"


def test_publish_writes_what_serve_shows_only_sent_issues(publication):
    draft = (publication / "issues" / f"{EXAMPLE_ISSUE}.yaml").read_text(encoding="utf-8")
    (publication / "issues" / "unsent.yaml").write_text(draft.replace("subject:", "id: unsent\nsubject:", 1))
    site = publish_example(publication, "http://127.0.0.1:9")
    assert (site / "archive" / EXAMPLE_ISSUE / "index.html").is_file()
    assert not (site / "archive" / "unsent").exists()
    page = (site / "archive" / EXAMPLE_ISSUE / "index.html").read_text(encoding="utf-8")
    assert "__NL_" not in page and "a@example.com" not in page and "/unsubscribe/" not in page
    feed = ET.parse(site / "archive" / "feed.xml").getroot()
    assert [e.find(f"{ATOM}id").text for e in feed.findall(f"{ATOM}entry")] == [
        f"http://127.0.0.1:9/archive/{EXAMPLE_ISSUE}/"]
    assert (site / "images" / "beanpole-1.jpg").read_bytes() == \
        (publication / "articles" / "images" / "beanpole-1.jpg").read_bytes()
    assert not (site / "balagov-beanpole.md").exists()


def test_bad_output_folder_is_one_line(publication):
    result = run_cli("publish", "--out", "newsletter.toml/site", cwd=publication)
    assert result.returncode == 2 and "cannot write the archive" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_published_archive_reads_in_chromium(publication, static_host, browser):  # noqa: F811
    holder, url = static_host
    holder["folder"] = publish_example(publication, url)
    page = browser.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(f"{url}/")  # the root sends readers to the archive
    page.wait_for_url(f"{url}/archive/")
    link = page.get_by_role("link", name="Balagov on Beanpole: intimacy after the war")
    link.click()
    page.wait_for_url(f"{url}/archive/{EXAMPLE_ISSUE}/")
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.currentSrc, e.naturalWidth])")
    assert images and all(width > 0 for _, width in images), images
    assert all(src.startswith(url) for src, _ in images)
    assert "Kantemir Balagov" in page.inner_text("body")
    assert not failed, failed
    page.close()
