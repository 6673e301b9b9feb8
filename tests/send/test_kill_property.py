"""Random interruptions of real ``newsletter send`` processes (SIGKILL, SIGTERM, Ctrl-C) through the
SendGrid stand-in, a real SMTP server and the outbox, on SQLite and PostgreSQL: nobody is sent
twice, nobody is lost, a graceful stop leaves nothing in doubt, and a kill leaves in doubt at most
what was in flight; the outbox, which settles the doubt from its Maildir, leaves none at all. The seed is printed with any failure (``NEWSLETTER_TEST_SEED`` replays it)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from newsletter.store.engine import connect
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE
from ..scheduler.conftest import seed
from ..standins.targets import Target

N = 3000
ROUNDS = 6
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
#: Batches in flight × batch size; SendGrid's in-flight requests adapt up to ``max_in_flight``, set here.
MAX_IN_FLIGHT = 2
IN_FLIGHT = {"sendgrid": MAX_IN_FLIGHT * 1000, "smtp": 1 * 200, "outbox": 1 * 500}


def counts(settings) -> dict[str, int]:
    engine = connect(settings)
    try:
        return Ledger(engine, EXAMPLE_ISSUE).counts()
    finally:
        engine.dispose()


@pytest.mark.parametrize("provider", ["sendgrid", "smtp", "outbox"])
def test_random_interruptions_never_send_twice_and_bound_the_doubt(store_settings, publication, provider):
    seed_value = int(os.environ.get("NEWSLETTER_TEST_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed_value)
    seed(store_settings, N)
    config = publication / "newsletter.toml"
    config.write_text(f"max_in_flight = {MAX_IN_FLIGHT}\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    command = [sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"]
    history = []
    with Target(provider) as target:
        env.update(target.env)
        for _ in range(ROUNDS):
            sig = rng.choice(SIGNALS)
            before = counts(store_settings)
            already = len(target.delivered())
            process = subprocess.Popen(command, cwd=publication, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 90  # wait until this run hands something over, or ends
            while len(target.delivered()) == already and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.6))
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=120)
            after = counts(store_settings)
            history.append((sig.name, process.returncode, after))
            where = f"seed {seed_value}, rounds {history}"
            assert "Traceback" not in stderr, f"{where}: {stderr}"
            if "is already running" in stderr:  # the killed run's lock was not yet released: nothing done
                assert after == before, f"{where}: a refused run changed the ledger"
            elif sig == signal.SIGKILL:
                assert after.get("sending", 0) <= IN_FLIGHT[provider], f"{where}: more in doubt than was in flight"
            else:
                # 128 + N after a graceful stop; -N when the signal came as the finished process was
                # tearing down (Python gives the default handlers back then): a shell shows 128 + N too.
                assert process.returncode in (0, 1, 128 + sig, -sig), f"{where}: {stderr}"
                assert after.get("sending", 0) == 0, f"{where}: a graceful stop left rows sending"
                recovered = before.get("in_doubt", 0) + before.get("sending", 0)
                if provider == "outbox":  # the rows a kill left are settled from the Maildir
                    recovered = 0
                assert after.get("in_doubt", 0) == recovered, f"{where}: a graceful stop put rows in doubt"
        final = subprocess.run(command, cwd=publication, env=env, capture_output=True, text=True, timeout=300)
        delivered = target.delivered()

    where = f"seed {seed_value}, rounds {history}"
    assert final.returncode in (0, 1), f"{where}: {final.stderr}"
    ledger = counts(store_settings)
    assert set(ledger) <= {"sent", "in_doubt"} and sum(ledger.values()) == N, f"{where}: {ledger}"
    copies = Counter(delivered)
    assert max(copies.values()) == 1, f"{where}: somebody got two copies"
    engine = connect(store_settings)
    try:
        doubtful = {r["email"] for r in Ledger(engine, EXAMPLE_ISSUE).rows(["in_doubt"], limit=N)}
    finally:
        engine.dispose()
    assert set(copies) | doubtful == {f"r{i}@example.com" for i in range(N)}, f"{where}: somebody was lost"
    assert ledger.get("sent", 0) <= len(copies), where
    if provider == "outbox":  # never in doubt: everybody sent, the ledger and the Maildir agree
        assert final.returncode == 0 and ledger == {"sent": N}, f"{where}: {ledger} {final.stdout}"
