"""Deliveries left in doubt per interruption: real ``newsletter send`` processes stopped mid-send.

    python bench/interrupts.py --provider sendgrid --rounds 10            # SIGTERM, SIGINT and SIGKILL
    python bench/interrupts.py --provider smtp --signal TERM --rounds 10
    python bench/interrupts.py --code /path/to/older/checkout ...        # the same against older code

Each round starts a send of the example issue to N subscribers (SQLite, or --database-url), waits
until it has handed something over, waits a random moment more, sends the signal, and counts the
rows the interruption left ``sending``: a later run reports them in doubt. A graceful stop leaves
none; a kill leaves at most the batches in flight. Prints, per signal, the rounds and the in-doubt
count per interruption (mean and max), and checks at the end that nobody got two copies.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "KILL": signal.SIGKILL}


def publication(folder: Path, database_url: str | None) -> Path:
    pub = folder / "pub"
    pub.mkdir()
    for name in ("articles", "templates", "issues"):
        shutil.copytree(ROOT / name, pub / name)
    settings = (ROOT / "newsletter.toml").read_text(encoding="utf-8")
    if database_url:
        settings = f'database_url = "{database_url}"\n' + settings
    (pub / "newsletter.toml").write_text(settings, encoding="utf-8")
    issue = pub / "issues" / "2026-11-26-beanpole.yaml"  # no send_at: older code has no --now
    issue.write_text("\n".join(line for line in issue.read_text().splitlines() if not line.startswith("send_at:")))
    return pub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", choices=("sendgrid", "smtp"), default="sendgrid")
    parser.add_argument("--signal", choices=("TERM", "INT", "KILL", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--n", type=int, default=None, help="subscribers (default: enough for every round)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--code", default=None, help="run the newsletter package from this checkout")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.n is None:  # every round hands over a few batches; nobody is sent twice
        args.n = (3000 if args.provider == "sendgrid" else 800) * args.rounds * (3 if args.signal == "all" else 1)

    from newsletter.config import load_settings
    from newsletter.store.engine import connect
    from newsletter.store.ledger import Ledger
    from tests.standins.targets import Target

    folder = Path(tempfile.mkdtemp(prefix="nl-interrupts-"))
    try:
        pub = publication(folder, args.database_url)
        settings = load_settings(pub / "newsletter.toml", env={})
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        env["NO_PROXY"] = "127.0.0.1,localhost"
        if args.code:
            env["PYTHONPATH"] = args.code
        if args.database_url:  # a shared database: start from an empty store
            from sqlalchemy import create_engine

            with create_engine(args.database_url).begin() as conn:
                for table in ("deliveries", "memberships", "subscribers"):
                    conn.exec_driver_sql(f"DELETE FROM {table}")
        csv = pub / "many.csv"  # imported by the code under test, which also creates its schema
        csv.write_text("email,lists\n" + "".join(f"r{i}@example.com,weekly\n" for i in range(args.n)))
        subprocess.run([sys.executable, "-m", "newsletter", "subscribers", "import", str(csv)], cwd=pub, env=env,
                       check=True, capture_output=True)
        engine = connect(settings, migrate=False)  # the schema is the code under test's
        ledger = Ledger(engine, "2026-11-26-beanpole")
        command = [sys.executable, "-m", "newsletter", "send", "2026-11-26-beanpole"]
        chosen = list(SIGNALS) if args.signal == "all" else [args.signal]
        left: dict[str, list[int]] = {name: [] for name in chosen}
        with Target(args.provider) as target:
            env.update(target.env)
            for round_ in range(args.rounds * len(chosen)):
                name = chosen[round_ % len(chosen)]
                already = len(target.delivered())
                process = subprocess.Popen(command, cwd=pub, env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 60
                while len(target.delivered()) == already and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.6))
                process.send_signal(SIGNALS[name])
                process.wait(120)
                counts = ledger.counts()
                left[name].append(counts.get("sending", 0))
                if counts.get("sending"):  # what a later run will report in doubt; set aside for the next round
                    with engine.begin() as conn:
                        conn.exec_driver_sql("UPDATE deliveries SET status = 'in_doubt' WHERE status = 'sending'")
            copies = Counter(target.delivered())
        engine.dispose()
        code = args.code or str(ROOT)
        print(f"{args.provider}, N={args.n}, {args.rounds} rounds per signal, code {code}")
        for name, values in left.items():
            mean = sum(values) / len(values) if values else 0.0
            print(f"  SIG{name}: in doubt per interruption: mean {mean:,.0f}, max {max(values, default=0):,} "
                  f"({', '.join(str(v) for v in values)})")
        print(f"  duplicates: {sum(c - 1 for c in copies.values() if c > 1)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
