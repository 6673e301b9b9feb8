"""Import throughput: generate N subscribers as CSV and import them into a fresh store.

    python bench/import.py                      # 100,000 rows, SQLite
    python bench/import.py --n 1000000
    python bench/import.py --n 1000000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints rows/s and peak RSS. Goal (issue 3): 1,000,000 rows on SQLite in ≤ 60 s, memory flat in N.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_csv(path: Path, n: int) -> None:
    countries = ("FR", "DE", "US", "BR", "JP", "NG", "IN", "CA")
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,lists,country,plan\n")
        for i in range(n):
            lists = "weekly;festival" if i % 3 == 0 else "weekly"
            out.write(f"Reader.{i}@Example.com,Reader {i},{lists},{countries[i % 8]},{'pro' if i % 5 == 0 else 'free'}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from newsletter.config import load_settings
    from newsletter.store import open_store
    from newsletter.subscribers import import_csv

    work = Path(tempfile.mkdtemp(prefix="nl-import-"))
    os.chdir(work)
    csv = work / "subscribers.csv"
    start = time.perf_counter()
    write_csv(csv, args.n)
    print(f"wrote {args.n:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
    settings = load_settings(env={})
    if args.database_url:
        settings.database_url = args.database_url
        from sqlalchemy import create_engine, text

        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            for table in ("deliveries", "memberships", "lists", "subscribers", "alembic_version"):
                conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        engine.dispose()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open_store(settings) as store:
        start = time.perf_counter()
        report = import_csv(csv, store)
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(report.summary())
    print(f"{'PostgreSQL' if args.database_url else 'SQLite'}: {args.n:,} rows in {elapsed:.1f} s = "
          f"{args.n / elapsed:,.0f} rows/s; peak RSS {peak:.0f} MB (before the import {rss_before:.0f} MB)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
