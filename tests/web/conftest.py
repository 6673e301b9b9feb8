"""Fixtures for the web side: the example publication with a store under test, its app, a
webhook key pair made here, and helpers to read the outbox."""

from __future__ import annotations

import mailbox
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.store import NewSubscriber, open_store
from newsletter.tokens import Tokens

from ..storefixtures import use_database

BASE = "https://testserver"


@pytest.fixture
def site_settings(publication, database_url, webhook_keys):
    """The example publication (its site offers the lists weekly and festival) on the store under
    test, with base_url https://testserver and the webhook's public key."""
    use_database(publication, database_url)
    return load_settings(publication / "newsletter.toml",
                         env={"NEWSLETTER_BASE_URL": BASE, "NEWSLETTER_SENDGRID_WEBHOOK_KEY": webhook_keys[1]})


@pytest.fixture
def site_store(site_settings):
    with open_store(site_settings) as store:
        yield store


@pytest.fixture
def client(site_settings, site_store):
    from starlette.testclient import TestClient

    from newsletter.web import create_app

    with TestClient(create_app(site_settings, store=site_store), base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def tokens(site_settings) -> Tokens:
    return Tokens.for_settings(site_settings)


def add_reader(store, email: str, lists=("weekly",), name: str = "") -> int:
    """A confirmed subscriber; their id."""
    store.upsert_subscribers([NewSubscriber(email=email, key=email.lower(), name=name, lists=list(lists))])
    return store.get_subscriber(email.lower()).id


def outbox(publication: Path) -> list:
    """Every message in the publication's outbox, parsed."""
    folder = publication / "outbox"
    if not folder.is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    return [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.keys()]


def messages_to(publication: Path, address: str) -> list:
    return [m for m in outbox(publication) if m["To"].addresses[0].addr_spec == address]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path: str) -> str:
    """The first link to ``/<path>/…`` in a message's text part."""
    match = re.search(rf"https?://[^\s/]+/{path}/[^\s\]>]+", text_of(message))
    assert match, f"no /{path}/ link in:\n{text_of(message)}"
    return match.group(0)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)
