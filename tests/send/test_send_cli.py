"""``newsletter send`` and ``report`` as a user runs them, and sends killed with SIGKILL then resumed."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import EXAMPLE_ISSUE, REPO, run_cli
from ..standins.sendgrid import SendGridStandIn


def import_many(publication, n: int) -> None:
    """``r0@example.com`` … on the list ``weekly``, imported as a user would."""
    (publication / "subscribers").mkdir(exist_ok=True)
    csv = publication / "subscribers" / "many.csv"
    csv.write_text("email,name,lists\n" + "".join(f"r{i}@example.com,R {i},weekly\n" for i in range(n)))
    assert run_cli("subscribers", "import", str(csv), cwd=publication).returncode == 0


def sendgrid_env(standin: SendGridStandIn) -> dict[str, str]:
    """The environment of a ``newsletter`` process sending through the stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(NEWSLETTER_PROVIDER="sendgrid", SENDGRID_API_KEY=standin.api_key, NEWSLETTER_SENDGRID_HOST=standin.url,
               NO_PROXY="127.0.0.1,localhost")
    return env


@pytest.fixture
def with_subscribers(publication):
    (publication / "subscribers").mkdir(exist_ok=True)
    (publication / "subscribers" / "example.csv").write_text((REPO / "subscribers" / "example.csv").read_text())
    result = run_cli("subscribers", "import", "subscribers/example.csv", cwd=publication)
    assert result.returncode == 0, result.stderr
    return publication


def test_send_report_and_resend(with_subscribers):
    pub = with_subscribers
    result = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=pub)
    assert result.returncode == 0, result.stderr
    assert "6 sent, 0 failed" in result.stdout and f"{pub}/outbox/new" in result.stdout
    assert len(list(mailbox.Maildir(pub / "outbox", create=False).keys())) == 6
    again = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=pub)
    assert again.returncode == 0 and "0 sent" in again.stdout
    report = json.loads(run_cli("report", EXAMPLE_ISSUE, "--json", cwd=pub).stdout)
    assert report["counts"] == {"sent": 6} and report["failures"] == [] and report["in_doubt"] == []
    assert report["started"] and report["finished"]
    text = run_cli("report", EXAMPLE_ISSUE, cwd=pub).stdout
    assert text.startswith(f"{EXAMPLE_ISSUE}: 6 deliveries: 6 sent")


def test_test_copy_and_dry_run_record_nothing(with_subscribers):
    pub = with_subscribers
    copy = run_cli("send", EXAMPLE_ISSUE, "--to", "editor@example.com", cwd=pub)
    assert copy.returncode == 0, copy.stderr
    assert "not recorded" in copy.stdout
    dry = run_cli("send", EXAMPLE_ISSUE, "--dry-run", cwd=pub)
    assert dry.returncode == 0 and "6 subscribers in the audience" in dry.stdout and "nothing sent" in dry.stdout
    box = mailbox.Maildir(pub / "outbox", create=False)
    assert [m["To"] for m in box] == ["editor@example.com"]
    report = json.loads(run_cli("report", EXAMPLE_ISSUE, "--json", cwd=pub).stdout)
    assert report["total"] == 0


def test_unknown_provider_is_refused_before_anything_is_queued(with_subscribers):
    result = run_cli("send", EXAMPLE_ISSUE, "--now", "--provider", "pigeon", cwd=with_subscribers)
    assert result.returncode == 2
    assert "provider: 'pigeon' is not one of outbox, smtp, sendgrid" in result.stderr
    report = json.loads(run_cli("report", EXAMPLE_ISSUE, "--json", cwd=with_subscribers).stdout)
    assert report["total"] == 0


def test_sends_killed_at_several_points_then_resumed_reach_everyone_once(publication):
    """SIGKILL a SendGrid send at several moments; after resuming, every subscriber got exactly one
    copy, or is reported in doubt (killed between SendGrid's answer and our commit)."""
    n = 3000
    import_many(publication, n)

    with SendGridStandIn(api_key="k") as standin:
        standin.delay = 0.4  # each batch of 1000 takes a while: kills land inside requests too
        env = sendgrid_env(standin)
        for kill_after in (0.3, 1.2, 0.9, 1.5):
            process = subprocess.Popen([sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"],
                                       cwd=publication, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(kill_after)
            process.send_signal(signal.SIGKILL)
            process.wait()
        final = subprocess.run([sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"], cwd=publication,
                               env=env, capture_output=True, text=True, timeout=120)
        delivered = [d.email for d in standin.delivered]

    from newsletter.config import load_settings
    from newsletter.send.report import report as ledger_report

    report = ledger_report(EXAMPLE_ISSUE, load_settings(env={}), limit=n)
    counts = report["counts"]
    assert sum(counts.values()) == n
    assert set(counts) <= {"sent", "in_doubt"}, counts
    assert len(delivered) == len(set(delivered)), "somebody got two copies"
    in_doubt = {row["email"] for row in report["in_doubt"]}
    # Everyone not in doubt was sent exactly once; those in doubt were sent at most once.
    assert len(set(delivered)) >= counts.get("sent", 0)
    assert set(delivered) | in_doubt == {f"r{i}@example.com" for i in range(n)}
    # Where a kill landed inside a batch, rows are in doubt and the send says so with exit 1; where
    # none did (timing decides which), everybody was sent and it exits 0. Either way it tells the truth.
    assert final.returncode == (1 if counts.get("in_doubt") else 0), final.stdout + final.stderr
    assert ("in doubt" in final.stdout) == bool(counts.get("in_doubt")), final.stdout


def test_send_exits_1_while_rows_of_an_earlier_run_are_in_doubt(publication):
    """A crash left rows in doubt: every later send says so and exits 1 until they are resolved.
    Through SMTP, which keeps no record to settle them from (the outbox does: see test_outbox_kill)."""
    from newsletter.config import load_settings
    from newsletter.issue import find_issue, load_issue
    from newsletter.store import NewSubscriber, open_store
    from newsletter.store.ledger import Ledger

    settings = load_settings(env={})
    issue = load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    with open_store(settings) as store:
        store.upsert_subscribers([NewSubscriber(email=f"r{i}@example.com", key=f"r{i}@example.com", name="",
                                                lists=["weekly"], attributes={}) for i in range(4)],
                                 status="confirmed")
        ledger = Ledger(store.engine, issue.id)
        ledger.plan(issue.audience)
        ledger.claim(1)  # claimed, then the process died before recording the answer
    from ..standins.smtp import Sink, running

    with running(Sink()) as url:
        config = publication / "newsletter.toml"
        config.write_text(config.read_text().replace('provider = "outbox"', f'provider = "smtp"\nsmtp_url = "{url}"'))
        first = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
        assert first.returncode == 1 and "1 deliveries were interrupted" in first.stdout, first.stdout + first.stderr
        second = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "1 deliveries are still in doubt from earlier runs" in second.stdout
        resolved = run_cli("send", EXAMPLE_ISSUE, "--now", "--retry-in-doubt", cwd=publication)
        assert resolved.returncode == 0, resolved.stdout + resolved.stderr


@pytest.mark.parametrize("args,env,expected", [
    (["send", EXAMPLE_ISSUE, "--to", "not an address"], {}, "--to: invalid email address 'not an address'"),
    (["send", EXAMPLE_ISSUE, "--to", "a@example.com\r\nBcc: x@example.com"], {}, "--to: invalid email address"),
    (["send", EXAMPLE_ISSUE, "--to", "a@example.com", "--provider", "sendgrid"],
     {"SENDGRID_API_KEY": "k", "NEWSLETTER_SENDGRID_HOST": "notaurl"}, "NEWSLETTER_SENDGRID_HOST: 'notaurl' is not an http(s) URL"),
    (["send", EXAMPLE_ISSUE, "--to", "a@example.com"], {"NEWSLETTER_OUTBOX": "newsletter.toml"}, "the outbox cannot be a Maildir here"),
    (["subscribers", "list"], {"NEWSLETTER_DATABASE_URL": "sqlite:////no/such/dir/x.db"}, "database: cannot connect to sqlite:////no/such/dir/x.db"),
    (["build", EXAMPLE_ISSUE, "--out", "newsletter.toml/x"], {}, "newsletter.toml/x: cannot write the build"),
])
def test_bad_settings_and_arguments_are_one_line_exit_2(publication, args, env, expected):
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    result = subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=publication, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert expected in result.stderr


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_a_send_gracefully_with_nothing_in_doubt(publication, sig, code):
    """SIGTERM or Ctrl-C: nothing new is claimed, the batches in flight finish and are recorded, one
    line says how to continue; the next run sends the rest, and nobody gets two copies."""
    n = 6000
    import_many(publication, n)

    from newsletter.config import load_settings
    from newsletter.send.report import report as ledger_report

    with SendGridStandIn(api_key="k") as standin:
        standin.delay = 1.0  # six batches, two at a time, a second each: the signal lands inside the send
        env = sendgrid_env(standin)
        process = subprocess.Popen([sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"],
                                   cwd=publication, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 90
        while standin.accepted_requests < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == code, stdout + stderr
        assert "Traceback" not in stderr
        assert f"run 'newsletter send {EXAMPLE_ISSUE}' to continue" in stderr
        counts = ledger_report(EXAMPLE_ISSUE, load_settings(env={}), limit=n)["counts"]
        assert set(counts) <= {"sent", "queued"} and counts.get("queued"), counts  # nothing sending, nothing in doubt
        assert counts["sent"] == len(standin.delivered), "a batch that went out was not recorded"

        rest = subprocess.run([sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"], cwd=publication,
                              env=env, capture_output=True, text=True, timeout=120)
        assert rest.returncode == 0, rest.stdout + rest.stderr
        delivered = sorted(d.email for d in standin.delivered)
    assert delivered == sorted(f"r{i}@example.com" for i in range(n))


def test_report_pages_long_lists_and_says_how_many_more(publication):
    from newsletter.config import load_settings
    from newsletter.issue import find_issue, load_issue
    from newsletter.store import NewSubscriber, open_store
    from newsletter.store.ledger import Ledger

    settings = load_settings(env={})
    issue = load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    with open_store(settings) as store:
        store.upsert_subscribers([NewSubscriber(email=f"r{i}@example.com", key=f"r{i}@example.com", lists=["weekly"])
                                  for i in range(55)], status="confirmed")
        ledger = Ledger(store.engine, issue.id)
        ledger.plan(issue.audience)
        rows = ledger.claim(55)
        ledger.mark("failed", [(r.delivery_id, "550 no such user") for r in rows[:30]])
        ledger.mark("in_doubt", [(r.delivery_id, "answer lost") for r in rows[30:]])
    page = run_cli("report", EXAMPLE_ISSUE, cwd=publication).stdout
    assert page.count("failed: r") == 20 and "and 10 more failed" in page
    assert page.count("in doubt: r") == 20 and "and 5 more in doubt" in page
    everything = run_cli("report", EXAMPLE_ISSUE, "--all", cwd=publication).stdout
    assert everything.count("failed: r") == 30 and everything.count("in doubt: r") == 25 and "more" not in everything
    data = json.loads(run_cli("report", EXAMPLE_ISSUE, "--json", cwd=publication).stdout)
    assert len(data["failures"]) == 30 and len(data["in_doubt"]) == 25
