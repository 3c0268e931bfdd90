"""Ingest benchmark: one generated day of 1M events through raw_events + cleaned_events,
against DuckDB's own typed load of the same files in the same run.

    .venv/bin/python bench/ingest.py [--events 1000000] [--format jsonl.gz] [--keep DIR]

The yardstick is ``CREATE TABLE ... AS SELECT * FROM read_json/read_csv/read_parquet(files,
typed contract columns)`` into a fresh DuckDB file, then CHECKPOINT: what storing the day
typed costs with none of the pipeline's accounting (rejects, reconciliation, cleaning).
Prints the seconds of each (wall clock, and CPU over all threads), the peak RSS of the
pipeline (goal <= 4 GiB), taken before the yardstick runs, and last the ratio
typed_load / (raw + clean) in wall-clock seconds (goal >= 0.5). Generation runs in a
child process so that its memory is not counted.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

# pyarrow imports pandas on first use (about 0.6 s here); a Dagster process has it loaded with
# the definitions before any asset runs, so it is loaded here too, outside the timings
import pandas  # noqa: F401

from profiling_assets import sql
from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.ingest import ingest_day, landing_files, load_snapshot

DAY = "2026-10-01"
BENCH_SQL = Path(__file__).resolve().parent / "sql"  # the benchmark's own queries (not shipped)


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
    # the files the pipeline reads (not a _SUCCESS marker or other droppings)
    files = [str(path) for path, _ in landing_files(day_dir)[0]]
    size = sum(os.path.getsize(f) for f in files)

    warehouse = root / "bench.duckdb"
    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    load_snapshot(con, "products", sorted((root / "landing" / "products").glob("*.csv")))
    started, cpu = time.perf_counter(), time.process_time()
    report = ingest_day(con, DAY, root)
    raw_s, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    counts = clean_day(con, DAY, CleaningConfig())
    clean_s, clean_cpu = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    # After the pipeline, so that the peak RSS above is the pipeline's alone; both read the
    # same files, which the generator (or an earlier run) has left in the page cache.
    fmt = args.format.removesuffix(".gz")
    typed_db = root / "typed_load.duckdb"
    typed_db.unlink(missing_ok=True)
    con = duckdb.connect(str(typed_db))
    started, cpu = time.perf_counter(), time.process_time()
    sql.run(con, BENCH_SQL / f"bench_typed_load_{fmt}.sql", files=files)
    typed_s, typed_cpu = time.perf_counter() - started, time.process_time() - cpu
    typed_rows = sql.run(con, BENCH_SQL / "bench_typed_load_rows.sql").fetchall()[0][0]
    con.close()
    typed_db.unlink()

    lines = report.lines_read
    pipeline = raw_s + clean_s
    print(f"files: {len(files)} ({size / 1024**2:.0f} MiB, {args.format}); lines read {lines:,}; "
          f"accepted {report.accepted:,}; rejected {sum(report.rejected_by_reason.values()):,}; "
          f"clean {counts['outcome'].get('clean', 0):,}")
    # CPU seconds (all threads) beside the wall clock: on a shared machine they move less
    print(f"raw_events:                {raw_s:6.2f}s  {lines / raw_s:12,.0f} events/s  "
          f"cpu {raw_cpu:6.2f}s")
    print(f"cleaned_events:            {clean_s:6.2f}s  {lines / clean_s:12,.0f} events/s  "
          f"cpu {clean_cpu:6.2f}s")
    print(f"raw + cleaned:             {pipeline:6.2f}s  {lines / pipeline:12,.0f} events/s  "
          f"cpu {raw_cpu + clean_cpu:6.2f}s")
    print(f"DuckDB typed load:         {typed_s:6.2f}s  {typed_rows / typed_s:12,.0f} events/s  "
          f"cpu {typed_cpu:6.2f}s  ({typed_rows:,} rows)")
    print(f"peak RSS: {peak_gib:.2f} GiB  (goal <= 4 GiB)   cores: {os.cpu_count()}")
    print(f"ratio vs typed load: {typed_s / pipeline:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
