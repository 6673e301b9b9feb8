"""Start-up: ``newsletter send`` on a small publication with nothing left to send, whole process.

    python bench/startup.py [--n 5000] [--runs 10] [--code /tmp/base]

Makes a publication with N subscribers, sends the example issue once (the outbox) so that
everybody is in the ledger, then runs the same ``send`` again ``--runs`` times: each run has
nothing to do, so what it costs is start-up (imports, settings, the store, render and checks if
it makes them). Prints the median and lowest CPU (user + sys of the child) and wall time.
Goal (issue 11): ≤ 0.5 s of CPU with 5,000 subscribers. To see where it goes:
``python -X importtime -m newsletter send ISSUE --now`` and ``python -m cProfile -s cumtime -m newsletter …``
in the publication folder the bench prints with ``--keep``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from whole import ISSUE, ROOT, publication, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    parser.add_argument("--keep", action="store_true", help="keep the publication folder and print it")
    args = parser.parse_args()

    work = publication(args.n)
    first = run(["send", ISSUE, "--now"], work, args.code)
    if first.returncode != 0:
        raise SystemExit(f"the first send failed (exit {first.returncode}):\n{first.stderr}")
    cpus, walls = [], []
    for _ in range(args.runs):
        again = run(["send", ISSUE, "--now"], work, args.code)
        if again.returncode != 0:
            raise SystemExit(f"send again failed (exit {again.returncode}):\n{again.stdout}{again.stderr}")
        cpus.append(again.cpu)
        walls.append(again.wall)
    print(again.stdout.strip())
    print(f"send with nothing left, {args.n:,} subscribers, {args.runs} runs ({args.code}): "
          f"CPU median {statistics.median(cpus):.3f} s (lowest {min(cpus):.3f}), "
          f"wall median {statistics.median(walls):.3f} s (lowest {min(walls):.3f})")
    if args.keep:
        print(f"publication kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
