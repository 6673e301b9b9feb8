"""The outbox never leaves doubt: a real ``newsletter send`` killed with SIGKILL inside its batches,
again and again, then resumed: at each start the rows the kill left ``sending`` are settled from
the Maildir (a file written: sent; none: queued again), so the resumed send ends with everybody
sent exactly once, nothing in doubt, and exit 0."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from newsletter.store.engine import connect
from newsletter.store.ledger import Ledger

from ..conftest import EXAMPLE_ISSUE
from ..scheduler.conftest import seed

N = 2000


def test_an_outbox_send_killed_inside_its_batches_resumes_with_nothing_in_doubt(store_settings, publication, tmp_path):
    seed(store_settings, N)
    outbox = tmp_path / "outbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(NEWSLETTER_PROVIDER="outbox", NEWSLETTER_OUTBOX=str(outbox))
    command = [sys.executable, "-m", "newsletter", "send", EXAMPLE_ISSUE, "--now"]
    left_sending = []
    for target in (150, 700, 1300):  # kill once this many messages are in the Maildir: inside a batch
        process = subprocess.Popen(command, cwd=publication, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if (outbox / "new").is_dir() and len(os.listdir(outbox / "new")) >= target:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        engine = connect(store_settings)
        try:
            counts = Ledger(engine, EXAMPLE_ISSUE).counts()
        finally:
            engine.dispose()
        assert counts.get("in_doubt", 0) == 0, counts  # what an earlier kill left was settled at this start
        left_sending.append(counts.get("sending", 0))
    final = subprocess.run(command, cwd=publication, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "in doubt" not in final.stdout, final.stdout
    engine = connect(store_settings)
    try:
        assert Ledger(engine, EXAMPLE_ISSUE).counts() == {"sent": N}, left_sending
    finally:
        engine.dispose()
    copies = Counter(m["To"] for m in mailbox.Maildir(outbox, create=False))
    assert len(copies) == N and max(copies.values()) == 1, left_sending
