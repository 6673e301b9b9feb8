"""Send worker tests: real ``newsletter worker`` and ``send --workers`` processes on one PostgreSQL
database (a schema per test), the SendGrid stand-in counting who got what."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import text

from newsletter.store.engine import connect

from ..scheduler.conftest import Schedulers, reload, seed, settings_text, wait_for
from ..standins.sendgrid import SendGridStandIn
from ..storefixtures import use_database

ISSUE = "2026-11-26-beanpole"


class CountingStandIn(SendGridStandIn):
    """The stand-in keeping only the addresses it accepted (copies of the email would fill memory)."""

    def __init__(self) -> None:
        super().__init__(api_key="k", record=False)
        self.emails: list[str] = []
        self.sizes: list[int] = []

    def _accept(self, body: dict, message_id: str) -> None:
        emails = [to["email"] for p in body["personalizations"] for to in p["to"]]
        with self._lock:
            self.accepted_requests += 1
            self.accepted_recipients += len(emails)
            self.emails.extend(emails)
            self.sizes.append(len(emails))


class Fleet(Schedulers):
    """Worker processes and ``send --workers`` started by a test, logs in files, all stopped at the end."""

    def start(self, *args: str, name: str = "worker") -> subprocess.Popen:
        log = self.publication / f"{name}-{len(self.processes)}.log"
        process = subprocess.Popen([sys.executable, "-m", "newsletter", *args], cwd=self.publication, env=self.env,
                                   stdout=open(log.with_suffix(".out"), "w"), stderr=open(log, "w"))
        self.processes.append((process, log))
        return process

    def worker(self, *args: str) -> subprocess.Popen:
        return self.start("worker", *args)

    def send(self, *args: str) -> subprocess.Popen:
        return self.start("send", ISSUE, "--workers", "--now", *args, name="send")

    def out(self, process: subprocess.Popen) -> str:
        return next(log for p, log in self.processes if p is process).with_suffix(".out").read_text()

    def stop(self, process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 120) -> int:
        return super().stop(process, sig, timeout)


@pytest.fixture
def pg_settings(publication, tmp_path):
    """The example publication on a fresh PostgreSQL schema, with a short worker lease."""
    base = os.environ.get("NEWSLETTER_TEST_DATABASE_URL")
    if not base:
        pytest.skip("send workers need PostgreSQL: set NEWSLETTER_TEST_DATABASE_URL=postgresql+psycopg://user@host/db")
    import re
    import secrets

    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    plain = re.sub(r"^postgresql\+psycopg", "postgresql", base)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    use_database(publication, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")
    settings_text(publication, worker_lease=2.0)
    try:
        yield reload(publication)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def standin():
    with CountingStandIn() as sg:
        yield sg


@pytest.fixture
def fleet(publication, standin):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(COLUMNS="200", NO_PROXY="127.0.0.1,localhost", NEWSLETTER_PROVIDER="sendgrid", SENDGRID_API_KEY="k",
               NEWSLETTER_SENDGRID_HOST=standin.url)
    procs = Fleet(publication, env)
    yield procs
    procs.close()


def query(settings, sql: str, **params):
    engine = connect(settings)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


__all__ = ["ISSUE", "query", "seed", "settings_text", "wait_for"]
