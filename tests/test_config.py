"""Settings: newsletter.toml found upwards, environment overrides, clear errors."""

from __future__ import annotations

import pytest

from newsletter.config import load_settings
from newsletter.errors import InputError

from .conftest import run_cli


def test_found_upwards_and_overridden_by_environment(publication, monkeypatch):
    (publication / "issues" / "deep").mkdir()
    monkeypatch.chdir(publication / "issues" / "deep")
    settings = load_settings(env={"NEWSLETTER_BASE_URL": "https://other.example", "NEWSLETTER_PROVIDER": "smtp"})
    assert settings.root == publication
    assert settings.name == "The Long Take"
    assert settings.base_url == "https://other.example"
    assert settings.provider == "smtp"


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.provider == "outbox" and settings.root == tmp_path and settings.config_path is None


@pytest.mark.parametrize("text,expected", [
    ('name = "x"\ncolour = "red"\n', "newsletter.toml:2: colour: unknown key"),
    ('name = "x\n', "newsletter.toml:1: TOML syntax error"),
    ('provider = "pigeon"\n', "newsletter.toml:1: provider: 'pigeon' is not one of outbox, smtp, sendgrid"),
    ('base_url = "thelongtake.example"\n', "newsletter.toml:1: base_url: 'thelongtake.example' is not an http(s) URL: give an absolute one"),
    ('name = 3\n', "newsletter.toml:1: name: expected a string"),
    ('[utm]\nenabled = "yes"\n', "newsletter.toml:2: utm.enabled: expected a bool"),
])
def test_bad_settings(publication, text, expected):
    (publication / "newsletter.toml").write_text(text)
    with pytest.raises(InputError) as err:
        load_settings(env={})
    assert err.value.lines()[0].startswith(expected), err.value.lines()


def test_cli_bad_settings_exit_2(publication):
    (publication / "newsletter.toml").write_text('provider = "pigeon"\n')
    result = run_cli("check", "2026-11-26-beanpole", cwd=publication)
    assert result.returncode == 2
    assert result.stderr.strip() == "newsletter.toml:1: provider: 'pigeon' is not one of outbox, smtp, sendgrid"


def test_cli_usage_error_exit_2(publication):
    result = run_cli("build", cwd=publication)
    assert result.returncode == 2
    assert "missing argument 'issue'" in result.stderr.lower()
    assert run_cli("check", "no-such-issue", cwd=publication).returncode == 2


def test_numbers_for_the_send(publication):
    (publication / "newsletter.toml").write_text("provider_timeout = 12\nmax_attempts = 3\npause_after = 2\n")
    settings = load_settings(env={})
    assert (settings.provider_timeout, settings.max_attempts, settings.pause_after) == (12.0, 3, 2)
    (publication / "newsletter.toml").write_text("max_attempts = 0\n")
    with pytest.raises(InputError, match="max_attempts: expected a whole number"):
        load_settings(env={})


# --- every setting is checked when loaded (issue 9 §4) ---------------------------------------

_NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("line,expected", [
    ("provider_timeout = -1", "provider_timeout: -1.0 is not a number of seconds above 0"),
    ("provider_timeout = nan", "provider_timeout: nan is not a number of seconds above 0"),
    ("provider_timeout = inf", "provider_timeout: inf is not a number of seconds above 0"),
    ('sendgrid_host = "https://api.sendgrid.com:99999"', "sendgrid_host: 'https://api.sendgrid.com:99999' is not an http(s) URL"),
    ('sendgrid_host = "api.sendgrid.com"', "sendgrid_host: 'api.sendgrid.com' is not an http(s) URL: give an absolute one"),
    ('sendgrid_host = "http://api.sendgrid.com"', "sendgrid_host: 'http://api.sendgrid.com' must use https://"),
    ('sendgrid_host = "https://api.sendgrid.com/v3?x=1"', "sendgrid_host: 'https://api.sendgrid.com/v3?x=1': give only the scheme and host"),
    ('from = "newsletter"', "from: 'newsletter' is not an email address (no @)"),
    ('from = "The Long Take <letters@>"', "from: 'The Long Take <letters@>' has no domain after the @"),
    ('from = "letters@the long take"', "from: 'letters@the long take'"),
    ('base_url = "http://thelongtake.example"', "base_url: 'http://thelongtake.example' must use https:// (http:// is only for localhost and 127.0.0.1)"),
    ('base_url = "https://thelongtake.example/#top"', "base_url: 'https://thelongtake.example/#top': give only the scheme and host and path"),
    ('base_url = "https://user:pw@thelongtake.example"', "base_url: must not contain a user name or password"),
    ('timezone = "Mars/Olympus"', "timezone: 'Mars/Olympus' is not a time zone name like UTC or America/New_York"),
    ('timezone = "../../etc/passwd"', "timezone: '../../etc/passwd' is not a time zone name"),
    ('reply_to = "editors@thelongtake.example\\r\\nBcc: victim@example.com"', "reply_to: contains a line break"),
    ('unsubscribe_mailto = "u@thelongtake.example\\nBcc: victim@example.com"', "unsubscribe_mailto: contains a line break"),
    ('from = "Long Take <l@thelongtake.example>\\r\\nBcc: victim@example.com"', "from: contains a line break"),
    ('name = "Long Take\\r\\nBcc: victim@example.com"', "name: contains a line break"),
    ('unsubscribe_mailto = "mailto:u@thelongtake.example"', "unsubscribe_mailto: 'mailto:u@thelongtake.example': give only the address"),
    ('secret_key = "k"', "secret_key: 1 byte is too short: use at least 32 random bytes"),
    ('language = "en\\nX"', "language: contains a line break"),
    ('template = "../secrets"', "template: '../secrets' is not a template name"),
    ('dkim_selector = "nl"', "dkim_selector: DKIM needs dkim_selector, dkim_domain and dkim_key_file together "
                             "(missing: dkim_domain, dkim_key_file)"),
    ('dkim_selector = "nl"\ndkim_domain = "thelongtake.example"\ndkim_key_file = "bad.pem"',
     "dkim_key_file: bad.pem is not an RSA private key in PEM form"),
    ('dkim_selector = "nl"\ndkim_domain = "thelongtake.example"\ndkim_key_file = "missing.pem"',
     "dkim_key_file: cannot read missing.pem: No such file or directory"),
])
def test_every_setting_is_checked_with_its_line(publication, line, expected):
    (publication / "bad.pem").write_text(_NOT_A_KEY)
    (publication / "newsletter.toml").write_text(f"# The Long Take\n{line}\n")
    with pytest.raises(InputError) as err:
        load_settings(env={})
    (message,) = err.value.lines()
    where, _, rest = message.partition(": ")
    assert where.startswith("newsletter.toml:") and int(where.split(":")[1]) >= 2, message
    assert rest.startswith(expected), message


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1:8025/news", "https://thelongtake.example/news/"])
def test_http_base_url_only_for_localhost(publication, url):
    (publication / "newsletter.toml").write_text(f'base_url = "{url}"\n')
    assert load_settings(env={}).base_url == url


def test_all_problems_at_once_in_file_order_then_environment(publication):
    (publication / "newsletter.toml").write_text('timezone = "Nowhere"\nname = "x"\nfrom = "nobody"\n')
    with pytest.raises(InputError) as err:
        load_settings(env={"NEWSLETTER_BASE_URL": "ftp://x.example"})
    assert [line.split(": ")[0] for line in err.value.lines()] == [
        "newsletter.toml:1", "newsletter.toml:3", "NEWSLETTER_BASE_URL"]


def test_a_dkim_key_that_is_a_key_is_accepted(publication):
    dkim = pytest.importorskip("dkim")  # noqa: F841 (dkimpy is a dependency; the key comes from cryptography)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (publication / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (publication / "newsletter.toml").write_text(
        'dkim_selector = "nl"\ndkim_domain = "thelongtake.example"\ndkim_key_file = "dkim.pem"\n')
    assert load_settings(env={}).dkim_key_file == "dkim.pem"


def test_a_toml_file_with_a_bom_is_read(publication):
    (publication / "newsletter.toml").write_bytes(b"\xef\xbb\xbf" + 'name = "The Long Take"\n'.encode())
    assert load_settings(env={}).name == "The Long Take"


@pytest.mark.parametrize("env,expected", [
    ({"NEWSLETTER_SECRET_KEY": "k"}, "NEWSLETTER_SECRET_KEY: 1 byte is too short"),
    ({"NEWSLETTER_SECRET_KEY": "x" * 31}, "NEWSLETTER_SECRET_KEY: 31 bytes is too short"),
    ({"NEWSLETTER_BASE_URL": "http://thelongtake.example"}, "NEWSLETTER_BASE_URL: 'http://thelongtake.example' must use https://"),
    ({"NEWSLETTER_SENDGRID_HOST": "https://api.sendgrid.com:0"}, "NEWSLETTER_SENDGRID_HOST: 'https://api.sendgrid.com:0' is not an http(s) URL: port 0 is not a port"),
    ({"NEWSLETTER_SMTP_URL": "smtp://host:99999"}, "NEWSLETTER_SMTP_URL: the host or port is malformed"),
    ({"NEWSLETTER_SENDGRID_WEBHOOK_KEY": "not base64!"}, "NEWSLETTER_SENDGRID_WEBHOOK_KEY: is not base64"),
])
def test_environment_values_are_checked_and_named(publication, env, expected):
    with pytest.raises(InputError) as err:
        load_settings(env=env)
    assert [line[:len(expected)] for line in err.value.lines()] == [expected]


def test_a_secret_key_of_32_bytes_is_accepted(publication):
    assert load_settings(env={"NEWSLETTER_SECRET_KEY": "x" * 32}).secret_key == "x" * 32


SECRET = "s3cretPW"


@pytest.mark.parametrize("env", [
    {"NEWSLETTER_SMTP_URL": f"smtp://user:{SECRET}#x@mail.example:587"},   # '#' not percent-encoded
    {"NEWSLETTER_SMTP_URL": f"smtp://user:{SECRET}@mail.example:99999"},
    {"NEWSLETTER_SMTP_URL": f"smtp//user:{SECRET}@mail.example"},
    {"NEWSLETTER_SMTP_URL": f"smtp://user:{SECRET}@mail example"},
    {"NEWSLETTER_SMTP_URL": f"smtp://user:{SECRET}@mail.example/path"},
    {"SENDGRID_API_KEY": f"SG.{SECRET}\r\nX-Injected: 1"},
    {"NEWSLETTER_SECRET_KEY": SECRET},
    {"NEWSLETTER_DATABASE_URL": f"user:{SECRET}@db.example/newsletter"},
    {"NEWSLETTER_DATABASE_URL": f"postgresql+psycopg://user:{SECRET}@127.0.0.1:1/x"},
], ids=["smtp-hash", "smtp-port", "smtp-scheme", "smtp-space", "smtp-path", "api-key", "secret-key",
        "db-no-scheme", "db-unreachable"])
def test_secrets_never_appear_in_any_output(publication, env):
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    result = subprocess.run([sys.executable, "-m", "newsletter", "send", "2026-11-26-beanpole"], cwd=publication,
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


BAD_SEND_SETTINGS = [  # each once reached the provider and marked a whole batch in doubt, or injected a Bcc
    ("sendgrid", ["provider_timeout = -1"]),
    ("sendgrid", ["provider_timeout = nan"]),
    ("sendgrid", ['sendgrid_host = "https://api.sendgrid.com:99999"']),
    ("smtp", ["provider_timeout = -5"]),
    ("smtp", ['dkim_selector = "nl"', 'dkim_domain = "thelongtake.example"', 'dkim_key_file = "bad.pem"']),
    ("smtp", ['reply_to = "editors@thelongtake.example\\r\\nBcc: victim@example.com"']),
    ("smtp", ['unsubscribe_mailto = "u@thelongtake.example\\r\\nBcc: victim@example.com"']),
]


def test_a_bad_setting_stops_the_send_before_the_store_and_never_leaves_doubt(publication, database_url):
    import os
    import subprocess
    import sys

    from newsletter.send.report import report

    from .standins.sendgrid import SendGridStandIn
    from .standins.smtp import Sink, running
    from .storefixtures import use_database

    use_database(publication, database_url)
    (publication / "bad.pem").write_text(_NOT_A_KEY)
    good = (publication / "newsletter.toml").read_text()
    (publication / "subs.csv").write_text("email,lists\n" + "".join(f"r{i}@example.com,weekly\n" for i in range(5)))
    assert run_cli("subscribers", "import", "subs.csv", cwd=publication).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | {"NO_PROXY": "127.0.0.1,localhost"}
    sink = Sink()
    with SendGridStandIn(api_key="k") as standin, running(sink) as smtp_url:
        for provider, lines in BAD_SEND_SETTINGS:
            extra = "\n".join(lines) + "\n"
            target = {"smtp": f'smtp_url = "{smtp_url}"\n', "sendgrid": 'sendgrid_api_key = "k"\n'}[provider]
            if provider == "sendgrid" and "sendgrid_host" not in extra:
                target += f'sendgrid_host = "{standin.url}"\n'
            ours = f'provider = "{provider}"\n{target}{extra}'
            overridden = {line.split("=")[0].strip() for line in ours.splitlines()}
            kept = "".join(line for line in good.splitlines(keepends=True) if line.split("=")[0].strip() not in overridden)
            (publication / "newsletter.toml").write_text(ours + kept)
            result = subprocess.run([sys.executable, "-m", "newsletter", "send", "2026-11-26-beanpole", "--now"],
                                    cwd=publication, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 2, (lines, result.stdout + result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
            assert result.stderr.startswith("newsletter.toml:"), result.stderr
            assert standin.requests == [] and sink.messages == []
    (publication / "newsletter.toml").write_text(good)
    assert report("2026-11-26-beanpole", load_settings(env={}))["total"] == 0  # nothing planned, nothing in doubt
