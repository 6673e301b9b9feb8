"""Outbox throughput: the whole ``newsletter send`` command writing N messages to the Maildir.

    python bench/outbox.py [--n 20000] [--runs 3] [--dir /dev/shm] [--code /tmp/base]

Each run is a fresh publication with N subscribers and an empty outbox; the send is one child
process, timed whole (start-up, render, plan, the messages). Prints messages/s and the process's
CPU per message (user + sys). ``--dir`` puts the publication (store and outbox) elsewhere, e.g. on
tmpfs to see the code's own cost apart from a busy disk. Goal (issue 11): ≥ 2,000 messages/s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from whole import ISSUE, ROOT, publication, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the publication is made (default: the system's temp)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    args = parser.parse_args()

    rates, cpus = [], []
    for _ in range(args.runs):
        work = publication(args.n, args.dir)
        result = run(["send", ISSUE, "--now"], work, args.code)
        written = len(list((work / "outbox" / "new").iterdir()))
        shutil.rmtree(work, ignore_errors=True)
        if result.returncode != 0 or written != args.n:
            raise SystemExit(f"send failed (exit {result.returncode}, {written} messages):\n{result.stderr}")
        rates.append(args.n / result.wall)
        cpus.append(result.cpu / args.n * 1e6)
        print(f"{args.n:,} messages in {result.wall:.2f} s: {rates[-1]:,.0f}/s, "
              f"{cpus[-1]:,.0f} µs of CPU per message (user + sys, whole process)")
    print(f"median of {args.runs}: {statistics.median(rates):,.0f} messages/s, "
          f"{statistics.median(cpus):,.0f} µs CPU per message ({args.code})")


if __name__ == "__main__":
    main()
