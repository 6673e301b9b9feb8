"""Scheduler tests: a publication with subscribers, and schedulers run as real processes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.store import NewSubscriber, open_store
from newsletter.store.schedule import Schedule

from ..storefixtures import use_database

UTC = dt.timezone.utc


def wait_for(condition, timeout: float = 90.0, every: float = 0.2, what: str = "condition"):
    """Poll until ``condition()`` is truthy (a busy machine gets a generous timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def seed(settings, n: int, lists=("weekly",)) -> None:
    with open_store(settings) as store:
        store.upsert_subscribers([NewSubscriber(email=f"r{i}@example.com", key=f"r{i}@example.com", name=f"R {i}",
                                                lists=list(lists)) for i in range(n)], status="confirmed")


def settings_text(publication: Path, **values) -> None:
    """Put top-level settings in newsletter.toml (they must come before its tables)."""
    path = publication / "newsletter.toml"
    lines = "".join(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {v}\n" for k, v in values.items())
    path.write_text(lines + path.read_text(encoding="utf-8"), encoding="utf-8")


class Schedulers:
    """Scheduler processes started by a test, their logs in files; all stopped at the end."""

    def __init__(self, publication: Path, env: dict):
        self.publication = publication
        self.env = env
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self) -> subprocess.Popen:
        log = self.publication / f"scheduler-{len(self.processes)}.log"
        process = subprocess.Popen([sys.executable, "-m", "newsletter", "scheduler"], cwd=self.publication,
                                   env=self.env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self.processes.append((process, log))
        return process

    def log(self, process: subprocess.Popen) -> str:
        return next(log for p, log in self.processes if p is process).read_text()

    def logs(self) -> str:
        return "\n".join(log.read_text() for _, log in self.processes)

    def stop(self, process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 90) -> int:
        process.send_signal(sig)
        return process.wait(timeout)

    def close(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def cli_env(publication):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(COLUMNS="200", NO_PROXY="127.0.0.1,localhost")
    return env


@pytest.fixture
def schedulers(publication, cli_env):
    procs = Schedulers(publication, cli_env)
    yield procs
    procs.close()


@pytest.fixture
def table(store_settings):
    from newsletter.store.engine import connect

    engine = connect(store_settings)
    yield Schedule(engine)
    engine.dispose()


def reload(publication: Path):
    return load_settings(publication / "newsletter.toml", env={})


__all__ = ["UTC", "Schedulers", "reload", "seed", "settings_text", "use_database", "wait_for"]
