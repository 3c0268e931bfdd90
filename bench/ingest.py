"""Ingest benchmark: one generated day of 1M events through raw_events + cleaned_events,
against a bare DuckDB scan of the same files in the same run.

    .venv/bin/python bench/ingest.py [--events 1000000] [--format jsonl.gz] [--keep DIR]

Prints events/s of both, their ratio (goal >= 0.5) and the peak RSS of the measured process
(goal <= 4 GiB). Generation runs in a child process so that its memory is not counted.
"""

import argparse
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.ingest import ingest_day, load_snapshot

DAY = "2026-10-01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--format", default="jsonl.gz", choices=["jsonl", "jsonl.gz", "csv", "parquet"])
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated data in this folder")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    day_dir = root / "landing" / "events" / f"dt={DAY}"
    if not day_dir.is_dir():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "profiling_assets.cli", "generate", "--data-dir", str(root),
             "--users", str(args.users), "--products", "20000", "--days", "1", "--start", DAY,
             "--events-per-day", str(args.events), "--format", args.format],
            check=True, stdout=subprocess.DEVNULL,
        )
        print(f"generated in {time.perf_counter() - started:.1f}s into {root}")
    files = sorted(glob.glob(str(day_dir / "*")))
    size = sum(os.path.getsize(f) for f in files)

    # Baseline: what DuckDB alone takes to scan the same files (malformed lines skipped).
    con = duckdb.connect()
    started = time.perf_counter()
    if args.format == "parquet":
        n, _ = con.execute("SELECT count(*), sum(price::DOUBLE) FROM read_parquet(?)", [files]).fetchone()
    elif args.format == "csv":
        n, _ = con.execute("SELECT count(*), sum(try_cast(price AS DOUBLE)) FROM read_csv(?, all_varchar=true, "
                           "ignore_errors=true)", [files]).fetchone()
    else:
        n, _ = con.execute("SELECT count(*), sum(try_cast(price AS DOUBLE)) FROM read_json(?, "
                           "format='newline_delimited', ignore_errors=true, columns={'price': 'VARCHAR'})",
                           [files]).fetchone()
    bare = time.perf_counter() - started
    con.close()

    warehouse = root / "bench.duckdb"
    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    load_snapshot(con, "products", sorted((root / "landing" / "products").glob("*.csv")))
    started = time.perf_counter()
    report = ingest_day(con, DAY, root)
    raw_s = time.perf_counter() - started
    started = time.perf_counter()
    counts = clean_day(con, DAY, CleaningConfig())
    clean_s = time.perf_counter() - started
    con.close()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    lines = report.lines_read
    pipeline = raw_s + clean_s
    print(f"files: {len(files)} ({size / 1024**2:.0f} MiB, {args.format}); lines read {lines:,}; "
          f"accepted {report.accepted:,}; rejected {sum(report.rejected_by_reason.values()):,}; "
          f"clean {counts['outcome'].get('clean', 0):,}")
    print(f"bare DuckDB scan:          {bare:6.2f}s  {n / bare:12,.0f} events/s")
    print(f"raw_events:                {raw_s:6.2f}s  {lines / raw_s:12,.0f} events/s")
    print(f"cleaned_events:            {clean_s:6.2f}s  {lines / clean_s:12,.0f} events/s")
    print(f"raw + cleaned:             {pipeline:6.2f}s  {lines / pipeline:12,.0f} events/s")
    print(f"ratio (pipeline / bare events/s): {(lines / pipeline) / (n / bare):.2f}  (goal >= 0.5)")
    print(f"peak RSS: {peak_gib:.2f} GiB  (goal <= 4 GiB)   cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
