"""Shared fixtures: a copy of the example publication that a test may change freely."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.config import load_settings

pytest_plugins = ["tests.storefixtures", "tests.feedserver"]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_ISSUE = "2026-11-26-beanpole"


@pytest.fixture
def publication(tmp_path, monkeypatch) -> Path:
    """The example publication (settings, articles, templates, issues) copied to a temporary folder,
    which is also the working directory."""
    root = tmp_path / "pub"
    root.mkdir()
    shutil.copy(REPO / "newsletter.toml", root / "newsletter.toml")
    for folder in ("articles", "templates", "issues"):
        shutil.copytree(REPO / folder, root / folder)
    monkeypatch.chdir(root)
    for var in ("NEWSLETTER_BASE_URL", "NEWSLETTER_PROVIDER", "NEWSLETTER_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture
def settings(publication):
    return load_settings(publication / "newsletter.toml", env={})


@pytest.fixture(scope="session")
def webhook_keys():
    """An ECDSA P-256 key pair, as SendGrid holds one: the private key signs, the public key
    (base64 DER, as SendGrid shows it) verifies."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode("ascii")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command line in a subprocess, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def write_issue(publication: Path, text: str, name: str = "test-issue") -> Path:
    path = publication / "issues" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path
