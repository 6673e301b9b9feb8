"""Signed links: bound to one purpose, one subscriber and their address; confirmation links expire."""

from __future__ import annotations

import base64
import re
import time

import pytest

from newsletter.config import load_settings
from newsletter.tokens import BadToken, Tokens, secret_key

PEOPLE = {42: "ann@example.com", 43: "bob@example.com"}


@pytest.fixture
def tokens():
    return Tokens(b"k" * 32, "https://pub.example/")


def read(tokens, purpose, token, people=PEOPLE):
    return tokens.read(purpose, token, people.get)


def test_round_trip_and_url(tokens):
    assert read(tokens, "unsubscribe", tokens.make("unsubscribe", 42, "ann@example.com")) == 42
    url = tokens.unsubscribe_url(42, "ann@example.com")
    assert url.startswith("https://pub.example/unsubscribe/42.")
    assert read(tokens, "unsubscribe", url.rsplit("/", 1)[1]) == 42
    assert read(tokens, "confirm", tokens.make("confirm", 43, "bob@example.com")) == 43


def test_a_token_works_for_one_purpose_only(tokens):
    token = tokens.make("unsubscribe", 42, "ann@example.com")
    with pytest.raises(BadToken):
        read(tokens, "preferences", token)
    with pytest.raises(BadToken):
        read(tokens, "confirm", token)


def test_a_token_works_for_one_subscriber_only(tokens):
    token = tokens.make("unsubscribe", 42, "ann@example.com")
    with pytest.raises(BadToken):
        read(tokens, "unsubscribe", "43" + token[2:])
    with pytest.raises(BadToken):
        Tokens(b"other key" * 4, "https://pub.example").read("unsubscribe", token, PEOPLE.get)
    for junk in ("", "42", "x.y", "42.", "-1.abc", "42.abc.def"):
        with pytest.raises(BadToken):
            read(tokens, "unsubscribe", junk)


def test_an_id_given_to_someone_else_does_not_inherit_old_links(tokens):
    old_link = tokens.make("unsubscribe", 42, "ann@example.com")
    with pytest.raises(BadToken):  # Ann was erased; id 42 now belongs to Carl
        read(tokens, "unsubscribe", old_link, {42: "carl@example.com"})
    with pytest.raises(BadToken):  # or to nobody
        read(tokens, "unsubscribe", old_link, {})


def test_confirmation_tokens_expire():
    short = Tokens(b"k" * 32, "https://pub.example", confirm_max_age=60)
    token = short.make("confirm", 42, "ann@example.com")
    assert read(short, "confirm", token) == 42
    stale = short.make("confirm", 42, "ann@example.com", now=time.time() - 61)
    with pytest.raises(BadToken, match="expired"):
        read(short, "confirm", stale)
    forged_fresh = stale.split(".")[0] + "." + format(int(time.time()), "x") + "." + stale.split(".")[2]
    with pytest.raises(BadToken, match="not valid"):
        read(short, "confirm", forged_fresh)


def test_key_is_generated_once_and_kept(publication):
    settings = load_settings(env={})
    first = secret_key(settings)
    assert (publication / ".secret_key").stat().st_mode & 0o777 == 0o600
    assert secret_key(load_settings(env={})) == first
    from_env = "from the environment, 32 bytes or more"
    assert secret_key(load_settings(env={"NEWSLETTER_SECRET_KEY": from_env})) == from_env.encode()


def test_signatures_are_itsdangerous_signatures(tokens):
    import hashlib

    from itsdangerous import Signer

    signer = Signer(b"k" * 32, salt="newsletter.unsubscribe", digest_method=hashlib.sha256)
    token = tokens.make("unsubscribe", 42, "ann@example.com")
    signature = signer.get_signature("42:ann@example.com").decode()
    assert bytes.fromhex(token.split(".", 1)[1]) == base64.urlsafe_b64decode(signature + "=")  # the same MAC, in hex
    # Links in emails sent when tokens were written in base64 keep working.
    legacy = f"42.{signature}"
    assert read(tokens, "unsubscribe", legacy) == 42


def test_no_token_looks_like_a_bitcoin_address_to_spamassassin(tokens):
    # SpamAssassin's __BITCOIN_ID body rule (PDS_BTC_ID, +1 point) matched about one base64 token in 7,000:
    # a "-" followed by 30-35 characters starting with 1 or 3.
    bitcoin = re.compile(r"\b(?<!=)(?:[13](?:(?:[-_=\s][a-km-zA-HJ-NP-Z1-9]){29,34}|[a-km-zA-HJ-NP-Z1-9]{29,34})"
                         r"|bc1[ac-hj-np-z02-9]{30,90})\b")
    legacy = [tokens.make("unsubscribe", n, f"r{n}@example.com", legacy=True) for n in range(20_000)]
    assert any(bitcoin.search(token) for token in legacy)  # the trap is real
    for n in range(20_000):
        for purpose in ("unsubscribe", "preferences"):
            assert not bitcoin.search(tokens.url(purpose, n, f"r{n}@example.com"))


@pytest.mark.parametrize("junk", [
    "٤٢.abc",                      # Arabic-Indic digits: str.isdigit() and int() take them
    "42.sïgnature",                # non-ASCII signature: compare_digest raised TypeError
    "42.\udcff",                   # a lone surrogate
    "9" * 5000 + ".abc",           # longer than int() reads, and than any database id
    "99999999999999999999.abc",    # over a 64-bit id
    "042.abc", "+42.abc", " 42.abc", "42 .abc",
])
def test_malformed_tokens_are_bad_tokens(tokens, junk):
    with pytest.raises(BadToken):
        read(tokens, "unsubscribe", junk)
    with pytest.raises(BadToken):
        read(tokens, "confirm", junk.replace(".", ".1f.", 1))


def test_non_ascii_digits_in_a_confirmation_stamp_are_bad(tokens):
    token = tokens.make("confirm", 42, "ann@example.com")
    sid, stamp, signature = token.split(".")
    for forged in (f"{sid}.{stamp}٤.{signature}", f"{sid}.{'f' * 40}.{signature}", f"{sid}.{stamp}.{signature}é"):
        with pytest.raises(BadToken):
            read(tokens, "confirm", forged)


@pytest.mark.parametrize("content", [b"", b"k\n", b"x" * 31])
def test_a_short_key_file_is_refused_not_used(publication, content):
    from newsletter.errors import InputError

    (publication / ".secret_key").write_bytes(content)
    with pytest.raises(InputError) as err:
        secret_key(load_settings(env={}))
    (line,) = err.value.lines()
    assert line.startswith(f".secret_key: the secret key is {len(content.strip())} bytes, at least 32 are needed")


def test_without_any_key_the_first_run_makes_one_and_nothing_is_ever_empty(publication):
    """Several processes making the key at once all end up with the same, full-length key."""
    import subprocess
    import sys

    code = "from newsletter.config import load_settings; from newsletter.tokens import secret_key; " \
           "import sys; sys.stdout.write(secret_key(load_settings(env={})).decode())"
    runs = [subprocess.Popen([sys.executable, "-c", code], cwd=publication, stdout=subprocess.PIPE, text=True)
            for _ in range(6)]
    keys = {run.communicate(timeout=60)[0] for run in runs}
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert [p.name for p in publication.iterdir() if p.name.startswith(".secret_key")] == [".secret_key"]


def test_links_are_the_two_urls_signed_with_precomputed_pads(tokens):
    import hashlib
    import hmac

    from newsletter.tokens import _Mac

    assert tokens.links(42, "ann@example.com") == (tokens.unsubscribe_url(42, "ann@example.com"),
                                                   tokens.preferences_url(42, "ann@example.com"))
    unsubscribe, preferences = tokens.links(42, "ann@example.com")
    assert read(tokens, "unsubscribe", unsubscribe.rsplit("/", 1)[1]) == 42
    assert read(tokens, "preferences", preferences.rsplit("/", 1)[1]) == 42
    for key in (b"", b"k", b"x" * 64, b"y" * 65, b"z" * 200):  # keys past the block size are hashed first
        for message in (b"", b"42:ann@example.com", "42:zoë@example.com".encode()):
            assert _Mac(key).hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()
