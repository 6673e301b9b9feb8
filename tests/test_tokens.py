"""Signed links: bound to one purpose and one subscriber; confirmation links expire."""

from __future__ import annotations

import time

import pytest

from newsletter.config import load_settings
from newsletter.tokens import BadToken, Tokens, secret_key


@pytest.fixture
def tokens():
    return Tokens(b"k" * 32, "https://pub.example/")


def test_round_trip_and_url(tokens):
    assert tokens.read("unsubscribe", tokens.make("unsubscribe", 42)) == 42
    url = tokens.unsubscribe_url(42)
    assert url.startswith("https://pub.example/unsubscribe/42.")
    assert tokens.read("unsubscribe", url.rsplit("/", 1)[1]) == 42


def test_a_token_works_for_one_purpose_only(tokens):
    token = tokens.make("unsubscribe", 42)
    for other in ("preferences", "confirm"):
        with pytest.raises(BadToken):
            tokens.read(other, token)


def test_a_token_works_for_one_subscriber_only(tokens):
    token = tokens.make("unsubscribe", 42)
    forged = "43" + token[2:]
    with pytest.raises(BadToken):
        tokens.read("unsubscribe", forged)
    with pytest.raises(BadToken):
        Tokens(b"other key" * 4, "https://pub.example").read("unsubscribe", token)


def test_confirmation_tokens_expire():
    short = Tokens(b"k" * 32, "https://pub.example", confirm_max_age=1)
    token = short.make("confirm", 7)
    assert short.read("confirm", token) == 7
    time.sleep(2.1)
    with pytest.raises(BadToken, match="expired"):
        short.read("confirm", token)


def test_key_is_generated_once_and_kept(publication):
    settings = load_settings(env={})
    first = secret_key(settings)
    assert (publication / ".secret_key").stat().st_mode & 0o777 == 0o600
    assert secret_key(load_settings(env={})) == first
    assert secret_key(load_settings(env={"NEWSLETTER_SECRET_KEY": "from-env"})) == b"from-env"


def test_fast_tokens_are_exactly_what_itsdangerous_signs(tokens):
    import hashlib

    from itsdangerous import Signer

    for purpose in ("unsubscribe", "preferences"):
        signer = Signer(b"k" * 32, salt=f"newsletter.{purpose}", digest_method=hashlib.sha256)
        for subscriber_id in (1, 42, 10**9):
            assert tokens.make(purpose, subscriber_id) == signer.sign(str(subscriber_id)).decode()
