"""Partitions in parallel on a DuckLake warehouse: a backfill of N days (raw_events through
user_features) built by one process day after day and by W processes at once, against the
embedded DuckDB file built day after day, with the tables compared (goal: W=2 at >= 1.6x the
serial lake on 2 cores, tables identical).

    .venv/bin/python bench/lake.py [--days 8] [--events 1000000] [--users 100000] [--workers 2] [--keep DIR]

Each build is a pool of worker processes (one for the serial builds) that materialize one
day's assets per task, as a backfill's run per partition does. user_features reads the
90 days of activity before its day, so, as Dagster's backfill does through the asset's
partition mapping, the days' features start once every day's activity is built: phase 1 is
raw_events, cleaned_events and user_daily_activity per day, phase 2 user_features per day.
The lake's catalog is a SQLite file and its data a local folder, under DIR/bench-lake.
"""

import argparse
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

from daily import START, generate

PHASES = (["raw_events", "cleaned_events", "user_daily_activity"], ["user_features"])
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TABLES = ("raw.events", "raw.events_rejected", "clean.events", "clean.events_quarantine",
          "features.user_daily_activity", "features.user_daily_category",
          "features.user_daily_brand", "features.user_features")


def _resources(target: dict):
    from profiling_assets.resources import pipeline_resources

    if target.get("catalog"):
        return pipeline_resources(models_dir=Path(target["models"]), lake_catalog=target["catalog"],
                                  lake_data_path=target["data"])
    return pipeline_resources(Path(target["database"]), Path(target["models"]))


def _materialize(target: dict, selection: list[str], day: str | None) -> float:
    """One run: the selection for one day (a partition) or unpartitioned; its wall seconds."""
    import dagster as dg

    from profiling_assets import cleaning, features, ingest

    assets = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
              features.user_daily_activity, features.user_features]
    started = time.perf_counter()
    result = dg.materialize(assets, selection=selection, resources=_resources(target),
                            instance=dg.DagsterInstance.ephemeral(), partition_key=day,
                            run_config=QUIET, raise_on_error=True)
    assert result.success
    return time.perf_counter() - started


def _warm(env: dict) -> None:
    os.environ.update(env)
    import dagster  # noqa: F401  (imports paid before the clock starts)

    import profiling_assets.definitions  # noqa: F401


def build(target: dict, days: list[str], workers: int, env: dict) -> tuple[float, list[float]]:
    """Seconds for the whole backfill, and each run's seconds."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_warm, initargs=(env,)) as pool:
        list(pool.map(_warm, [env] * workers))
        pool.submit(_materialize, target, ["raw_users", "raw_products"], None).result()
        started = time.perf_counter()
        runs = []
        for selection in PHASES:
            runs += pool.map(_materialize, [target] * len(days), [selection] * len(days), days)
        return time.perf_counter() - started, runs


def digest(target: dict) -> dict[str, tuple]:
    """Rows and an order-free hash of each table's rows, leaving out when they were written.
    Floating-point values are hashed to 9 decimals: DuckDB's parallel sums add in varying
    order, so the last bits of a sum differ from build to build of the same data."""
    res = _resources(target)["warehouse"]
    con = res.connect_read_only()
    out = {}
    try:
        for table in TABLES:
            schema, name = table.split(".")
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_catalog = current_database() AND table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position", [schema, name]).fetchall()
            listed = ", ".join(f'round("{c}", 9)' if t in ("DOUBLE", "FLOAT") else f'"{c}"'
                               for c, t in cols if not c.endswith("_at"))
            out[table] = con.execute(
                f"SELECT count(*), sum(hash({listed})::HUGEINT) FROM {table}").fetchone()
    finally:
        con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per day")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated data in this folder")
    parser.add_argument("--no-embedded", action="store_true",
                        help="leave out the embedded build (the lake builds are still compared)")
    args = parser.parse_args()
    root = args.keep or Path("/tmp/bench-lake-data")
    generated = generate(root, args)
    days = [(START + timedelta(days=i)).isoformat() for i in range(args.days)]
    events = sum(d["lines"] for d in generated)
    work = root / "bench-lake"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {"PROFILING_DATA_DIR": str(root), "PROFILING_START_DATE": START.isoformat(),
           "PROFILING_PUBLISHED": str(work / "published.duckdb"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    os.environ.update(env)
    targets = {
        "embedded, serial": ({"database": str(work / "embedded.duckdb"),
                              "models": str(work / "models")}, 1),
        "lake, serial": ({"catalog": f"sqlite:{work / 'serial.sqlite'}",
                          "data": str(work / "serial"), "models": str(work / "models")}, 1),
        f"lake, {args.workers} at once": ({"catalog": f"sqlite:{work / 'parallel.sqlite'}",
                                           "data": str(work / "parallel"),
                                           "models": str(work / "models")}, args.workers),
    }
    if args.no_embedded:
        del targets["embedded, serial"]
    print(f"{args.days} days ({days[0]}..{days[-1]}), {events:,} events; "
          f"{os.cpu_count()} cores; phases: {' + '.join(', '.join(p) for p in PHASES)}")
    seconds, digests = {}, {}
    for label, (target, workers) in targets.items():
        total, runs = build(target, days, workers, env)
        seconds[label] = total
        digests[label] = digest(target)
        print(f"  {label:<22} {total:7.1f} s  ({len(runs)} runs, {sum(runs):.1f} run-s, "
              f"{total / args.days:.1f} s a day)", flush=True)
    *embedded, serial, parallel = seconds.values()
    first = next(iter(digests.values()))
    same = all(d == first for d in digests.values())
    rows = sum(r for r, _ in first.values())
    print(f"tables identical across the {len(digests)} builds: {'yes' if same else 'NO'} "
          f"({len(TABLES)} tables, {rows:,} rows)")
    if not same:
        for label, d in digests.items():
            print(f"  {label}: {d}")
    if embedded:
        print(f"lake serial / embedded serial: {serial / embedded[0]:.2f}x the time")
    print(f"lake: {args.workers} partitions at once vs serial: {serial / parallel:.2f}x "
          f"(goal >= 1.6)")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
