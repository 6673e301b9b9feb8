"""Fixtures for provider tests: the example issue as a mailing, and recipients."""

from __future__ import annotations

import pytest

from newsletter.issue import load_issue
from newsletter.providers import Mailing, Recipient
from newsletter.render import render_issue

from ..conftest import EXAMPLE_ISSUE


@pytest.fixture
def mailing(settings, publication):
    rendered = render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)
    return Mailing(
        issue_id=rendered.issue.id, subject=rendered.issue.subject, from_address=settings.from_address,
        rendered=rendered, reply_to=settings.reply_to, unsubscribe_mailto="unsubscribe@thelongtake.example",
    )


def recipient(n: int = 1, name: str = "Ann Lee") -> Recipient:
    return Recipient(
        email=f"ann{n}@example.com", name=name,
        unsubscribe_url=f"https://thelongtake.example/unsubscribe/{n}.sig",
        preferences_url=f"https://thelongtake.example/preferences/{n}.sig",
        subscriber_id=n, delivery_id=100 + n,
    )


