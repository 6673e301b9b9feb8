"""Shared fixtures: a copy of the example publication that a test may change freely."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.config import load_settings

pytest_plugins = ["tests.storefixtures"]

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
