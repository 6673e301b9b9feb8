"""Scheduling as an editor does it (the command line), and a recurring digest over three
occurrences driven with an injected clock."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import mailbox

from newsletter.commands.schedule import schedule
from newsletter.scheduler import Scheduler
from newsletter.store.engine import connect
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE, run_cli, write_issue
from .conftest import UTC, seed

DIGEST = """\
subject: "The week in film"
preheader: "What we watched, read and argued about this week"
repeat: "0 8 * * MON"
audience: {lists: [weekly]}
sections:
  - heading: New this week
    items:
      - latest: 3
        excerpt: {words: 30}
"""


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_schedule_prints_both_zones_moves_lists_and_cancels(publication):
    result = run_cli("schedule", EXAMPLE_ISSUE, "--at", "2099-01-05 08:00 Europe/Paris", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert "2099-01-05 02:00 EST (America/New_York) = 07:00 UTC" in result.stdout
    moved = run_cli("schedule", EXAMPLE_ISSUE, "--at", "2099-01-06 08:00", cwd=publication)  # the publication's zone
    assert "2099-01-06 08:00 EST (America/New_York) = 13:00 UTC" in moved.stdout
    listing = run_cli("scheduled", cwd=publication)
    assert listing.stdout.count(EXAMPLE_ISSUE) == 1 and "scheduled  2099-01-06 08:00 EST" in listing.stdout
    assert run_cli("unschedule", EXAMPLE_ISSUE, cwd=publication).returncode == 0
    assert "cancelled" in run_cli("scheduled", cwd=publication).stdout
    again = run_cli("unschedule", EXAMPLE_ISSUE, cwd=publication)
    assert again.returncode == 1 and "not scheduled" in again.stdout


def test_bad_times_and_failing_issues_are_refused(publication):
    past = run_cli("schedule", EXAMPLE_ISSUE, "--at", "2020-01-01T08:00:00+00:00", cwd=publication)
    assert past.returncode == 2 and "is in the past" in past.stderr and "Traceback" not in past.stderr
    bad = run_cli("schedule", EXAMPLE_ISSUE, "--at", "next tuesday", cwd=publication)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("--at: ")
    path = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("preheader:", "# preheader:"), encoding="utf-8")
    failing = run_cli("schedule", EXAMPLE_ISSUE, "--at", "2099-01-01T08:00:00+00:00", cwd=publication)
    assert failing.returncode == 1 and "no preheader" in failing.stdout + failing.stderr
    assert "nothing scheduled" in run_cli("scheduled", cwd=publication).stdout


def test_send_refuses_an_issue_not_yet_due_unless_now(publication):
    path = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    text = path.read_text()
    # No audience: the store is empty, and a list it does not have would stop the send (issue 9 §5).
    path.write_text(text.replace("send_at: 2026-11-26T08:00:00-05:00", "send_at: 2099-11-26T08:00:00-05:00")
                    .replace("audience: {lists: [weekly]}\n", ""))
    early = run_cli("send", EXAMPLE_ISSUE, cwd=publication)
    assert early.returncode == 2 and len(early.stderr.strip().splitlines()) == 1, early.stderr
    assert "due at 2099-11-26 08:00 EST (America/New_York) = 13:00 UTC" in early.stderr and f"newsletter schedule {EXAMPLE_ISSUE}" in early.stderr
    assert "--now" in early.stderr
    assert run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication).returncode == 0
    digest = write_issue(publication, DIGEST, name="weekly")
    assert digest.is_file()
    recurring = run_cli("send", "weekly", "--now", cwd=publication)
    assert recurring.returncode == 2 and "repeats" in recurring.stderr


def test_a_recurring_digest_takes_new_articles_each_week_and_skips_a_week_with_none(store_settings, publication):
    seed(store_settings, 3)
    write_issue(publication, DIGEST, name="weekly")
    clock = Clock(dt.datetime(2026, 11, 29, 12, tzinfo=UTC))  # a Sunday
    first = schedule("weekly", store_settings, now=clock())
    assert (first.issue_id, first.due_at) == ("weekly-2026-49", dt.datetime(2026, 11, 30, 13, tzinfo=UTC))
    scheduler = Scheduler(store_settings, clock=clock)
    engine = connect(store_settings)
    try:
        clock.now = first.due_at
        scheduler.fire(first.id)
        row = scheduler.schedule.find("weekly-2026-49")
        assert row.state == "sent", row.reason
        assert row.articles == ["northern-lights-film-week", "wings-shepitko", "cranes-are-flying-restoration"]
        assert Ledger(engine, "weekly-2026-49").counts() == {"sent": 3}

        (publication / "articles" / "new-release.md").write_text(
            '---\ntitle: "A new release"\ndate: 2026-12-03\n---\nFresh from the festival circuit.\n', encoding="utf-8")
        second = scheduler.schedule.find("weekly-2026-50")
        assert second.state == "scheduled" and second.due_at == dt.datetime(2026, 12, 7, 13, tzinfo=UTC)
        clock.now = second.due_at
        scheduler.fire(second.id)
        second = scheduler.schedule.find("weekly-2026-50")
        assert second.state == "sent" and second.articles == ["new-release", "balagov-beanpole"]

        third = scheduler.schedule.find("weekly-2026-51")
        clock.now = third.due_at
        scheduler.fire(third.id)
        third = scheduler.schedule.find("weekly-2026-51")
        assert third.state == "skipped" and "no new article" in third.reason
        assert Ledger(engine, "weekly-2026-51").counts() == {}
        assert scheduler.schedule.find("weekly-2026-52").state == "scheduled"
    finally:
        scheduler.engine.dispose()
        engine.dispose()

    messages = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
                for m in mailbox.Maildir(publication / "outbox", create=False)]
    by_issue: dict[str, list[str]] = {}
    for message in messages:
        by_issue.setdefault(message["X-Newsletter-Issue"], []).append(message.get_body(("plain",)).get_content())
    assert sorted(by_issue) == ["weekly-2026-49", "weekly-2026-50"] and all(len(v) == 3 for v in by_issue.values())
    assert "A new release" in by_issue["weekly-2026-50"][0] and "A new release" not in by_issue["weekly-2026-49"][0]
