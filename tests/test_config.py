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
    ('name = "x"\ncolour = "red"\n', "newsletter.toml: colour: unknown key"),
    ('name = "x\n', "newsletter.toml:1: TOML syntax error"),
    ('provider = "pigeon"\n', "newsletter.toml: provider: 'pigeon' is not one of outbox, smtp, sendgrid"),
    ('base_url = "thelongtake.example"\n', "newsletter.toml: base_url: 'thelongtake.example' is not an absolute http(s) URL"),
    ('name = 3\n', "newsletter.toml: name: expected a string"),
    ('[utm]\nenabled = "yes"\n', "newsletter.toml: utm.enabled: expected a bool"),
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
    assert result.stderr.strip() == "newsletter.toml: provider: 'pigeon' is not one of outbox, smtp, sendgrid"


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
