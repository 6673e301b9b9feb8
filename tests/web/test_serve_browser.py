"""End to end: `newsletter serve` as a separate process, a reader in real headless Chromium, mail
read from the outbox, issues sent by the real command line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ..conftest import EXAMPLE_ISSUE, write_issue
from ..test_browser import CHROMIUM
from .conftest import link_in, messages_to

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Site:
    """A running `newsletter serve` and the command line pointed at the same publication."""

    def __init__(self, publication: Path):
        self.publication = publication
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        self.env.update(NEWSLETTER_BASE_URL=self.url, NO_PROXY="127.0.0.1,localhost", COLUMNS="200")
        self.log = open(publication / "serve.log", "w+b")
        self.process = subprocess.Popen([sys.executable, "-m", "newsletter", "serve", "--port", str(port)],
                                        cwd=publication, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, what=f"serve to answer; log:\n{self.output()}")

    def _healthy(self) -> bool:
        assert self.process.poll() is None, self.output()
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as answer:
                return answer.status == 200
        except OSError:
            return False

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=self.publication, env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def status(self, email: str) -> str:
        rows = [line.split("\t") for line in self.cli("subscribers", "list").stdout.splitlines()]
        return next(row[2] for row in rows if row[0] == email)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it: (exit code, everything it printed)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        output = self.output()
        self.log.close()
        return code, output


@pytest.fixture
def site(publication):
    (publication / "control.csv").write_text("email,name,lists\ncontrol@example.com,Control,weekly\n")
    running = Site(publication)
    running.cli("subscribers", "import", "control.csv")
    yield running
    code, output = running.stop()
    assert code == 143 and "stopped by SIGTERM" in output, output
    # The access log shows the pages asked for, and never a token.
    assert "POST /unsubscribe/… 200" in output or "POST /preferences/… 200" in output, output
    assert not re.search(r"/(unsubscribe|confirm|preferences)/\d+\.", output), output


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def second_issue(publication: Path) -> None:
    text = (publication / "issues" / f"{EXAMPLE_ISSUE}.yaml").read_text(encoding="utf-8")
    write_issue(publication, text.replace('subject: "', 'subject: "Next week: ', 1), name="next-week")


def subscribe_and_confirm(page, site: Site, email: str, name: str, lists: set[str]) -> None:
    page.goto(f"{site.url}/subscribe")
    page.fill("#email", email)
    page.fill("#name", name)
    for box in ("weekly", "festival"):
        page.locator(f"input[name=lists][value={box}]").set_checked(box in lists)
    page.click("button[type=submit]")
    page.get_by_text("Check your inbox").wait_for()
    assert site.status(email) == "pending"
    mail = wait_for(lambda: messages_to(site.publication, email), what="the confirmation email")[0]
    page.goto(link_in(mail, "confirm"))
    assert site.status(email) == "pending"  # opening the link alone confirms nothing
    page.click("text=Confirm my subscription")
    page.get_by_text("Subscription confirmed").wait_for()
    assert site.status(email) == "confirmed"


def open_email_and_click(page, site: Site, email: str, subject_start: str, link_text: str) -> None:
    """Show the issue's HTML as a mail client would, and follow one of its links."""
    [mail] = [m for m in messages_to(site.publication, email) if str(m["Subject"]).startswith(subject_start)]
    page.set_content(mail.get_body(preferencelist=("html",)).get_content())
    with page.expect_navigation():
        page.click(f"a:text-is('{link_text}')")


def test_subscribe_confirm_receive_unsubscribe_and_the_next_send_skips_them(browser, site):
    page = browser.new_page()
    subscribe_and_confirm(page, site, "reader@example.com", "Ann O'Hara", {"weekly"})
    site.cli("send", EXAMPLE_ISSUE, "--now")
    assert len(messages_to(site.publication, "reader@example.com")) == 2  # confirmation + the issue

    [issue] = [m for m in messages_to(site.publication, "reader@example.com") if "Balagov" in str(m["Subject"])]
    scanner = page.request.get(issue["List-Unsubscribe"].split(",")[0].strip("<> "))  # a link scanner's GET
    assert scanner.status == 200 and site.status("reader@example.com") == "confirmed"

    open_email_and_click(page, site, "reader@example.com", "Balagov", "Unsubscribe")
    assert page.url.startswith(f"{site.url}/unsubscribe/")
    page.click("button:text-is('Unsubscribe')")
    page.get_by_text("You are unsubscribed").wait_for()
    assert site.status("reader@example.com") == "unsubscribed"

    second_issue(site.publication)
    site.cli("send", "next-week", "--now")
    assert [str(m["Subject"]).startswith("Next week") for m in messages_to(site.publication, "reader@example.com")
            ].count(True) == 0
    assert len(messages_to(site.publication, "control@example.com")) == 2
    page.close()


def test_preferences_change_lists_and_the_next_send_follows(browser, site):
    page = browser.new_page()
    name = "<i>Ben</i> & <script>x()</script>"
    subscribe_and_confirm(page, site, "ben@example.com", name, {"weekly", "festival"})
    site.cli("send", EXAMPLE_ISSUE, "--now")

    open_email_and_click(page, site, "ben@example.com", "Balagov", "Update your preferences")
    assert page.url.startswith(f"{site.url}/preferences/")
    assert page.input_value("#name") == name  # the name as typed, shown as text
    assert page.locator("main i, main script").count() == 0
    assert page.is_checked("input[value=weekly]") and page.is_checked("input[value=festival]")
    page.uncheck("input[value=weekly]")
    page.fill("#name", "Ben")
    page.click("button:text-is('Save')")
    page.get_by_text("Saved.").wait_for()
    assert not page.is_checked("input[value=weekly]") and page.input_value("#name") == "Ben"

    listed = site.cli("subscribers", "list").stdout
    assert "ben@example.com\tBen\tconfirmed\tfestival" in listed
    second_issue(site.publication)  # its audience is the weekly list
    site.cli("send", "next-week", "--now")
    subjects = [str(m["Subject"]) for m in messages_to(site.publication, "ben@example.com")]
    assert not any(s.startswith("Next week") for s in subjects)
    assert len(messages_to(site.publication, "control@example.com")) == 2
    page.close()
