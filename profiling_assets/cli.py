"""``profiling-assets``: generate demo data, import exports, materialize days, summarize."""

import argparse
import os
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import duckdb

from profiling_assets import settings, sql

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _days_on_disk(data_dir: Path) -> list[str]:
    root = data_dir / "landing" / "events"
    if not root.is_dir():
        return []
    return sorted(p.name.removeprefix("dt=") for p in root.glob("dt=*") if p.is_dir())


def materialize_days(first: str, last: str, *, snapshots: bool = True, train: bool = False) -> None:
    """Materialize the snapshot assets, then every daily asset for first..last, in process,
    recording the runs in the Dagster instance (DAGSTER_HOME) so that the UI shows them.

    With ``train``, the days are ingested first; the text encoder and the SVD are fitted on
    them (and promoted if their checks pass); their outputs are built day by day; then the
    segments are fitted on features, factors and interests, and segments and profiles are
    built day by day."""
    import dagster as dg

    from profiling_assets.definitions import defs

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    if snapshots:
        _run_job(defs, "snapshots", instance)
    # One run per day, as the daily schedule does, so that each partition's metadata and
    # checks in the UI describe that day alone.
    days = []
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        days.append(day.isoformat())
        day += timedelta(days=1)
    if not train:
        for day in days:
            _run_job(defs, "daily_assets", instance, partition_key=day)
        return
    for day in days:
        _run_job(defs, "daily_ingest", instance, partition_key=day)
    for job in ("train_text_encoder", "train_svd"):
        _run_job(defs, job, instance, allow_failed_checks=True)
    for day in days:
        _run_job(defs, "daily_model_outputs", instance, partition_key=day)
    _run_job(defs, "train_segments", instance, allow_failed_checks=True)
    for day in days:
        _run_job(defs, "daily_profiles", instance, partition_key=day)


def _run_job(defs, name: str, instance, partition_key: str | None = None, *,
             allow_failed_checks: bool = False) -> None:
    """Run one job in process; stop on a failed step. A model's failed blocking check fails its
    run but is an outcome, not a crash (the version stays a candidate), when allowed."""
    started = time.perf_counter()
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, partition_key=partition_key, run_config=QUIET_LOGS, raise_on_error=False)
    failures = [e for e in result.all_events if e.is_step_failure]
    blocked = [e for e in failures if e.step_failure_data.error
               and "DagsterAssetCheckFailedError" in (e.step_failure_data.error.cls_name or "")]
    if not result.success and not (allow_failed_checks and failures == blocked):
        for event in failures:
            err = event.step_failure_data.error
            print(f"  step {event.step_key} failed: {err.message.strip() if err else 'unknown error'}",
                  file=sys.stderr)
        raise SystemExit(f"{name} failed (run {result.run_id})")
    failed_checks = [
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}"
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    for check in failed_checks:
        print(f"  check failed: {check}", file=sys.stderr)
    print(f"  {name} {partition_key or ''} done in {time.perf_counter() - started:.1f}s", flush=True)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def print_table(header, rows, *, indent: str = "  ", right: bool = False, rule: bool = False) -> None:
    """Columns aligned on the widest cell; numbers right-aligned where ``right``."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *cells, strict=True)]
    lines = [[str(h) for h in header], *([["-" * w for w in widths]] if rule else []), *cells]
    for line in lines:
        text = "  ".join(v.rjust(w) if right else v.ljust(w) for v, w in zip(line, widths, strict=True))
        print(indent + text.rstrip())


def print_summary(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = sql.query(con, "demo_summary")
    print_table(("day", "lines", "accepted", "rejected", "clean", "quarantined", "users", "purchases"),
                rows, right=True)


# The headline figures of each model kind, as (metric key, label).
MODEL_FIGURES = {
    "text_encoder": [("macro_f1", "macro-F1"), ("frozen_macro_f1", "frozen base macro-F1")],
    "svd_model": [("svd_recall_at_10", "recall@10"), ("popularity_recall_at_10", "popularity recall@10"),
                  ("svd_ndcg_at_10", "NDCG@10"), ("popularity_ndcg_at_10", "popularity NDCG@10"),
                  ("svd_coverage_at_10", "coverage")],
    "segment_model": [("k", "k"), ("silhouette", "silhouette"),
                      ("ari_vs_archetypes", "ARI vs planted archetypes")],
}


def print_models(versions, indent: str = "  ") -> None:
    """One line per model version with its headline figures."""
    rows = [(v.model_name, v.version, v.status, f"{v.trained_at:%Y-%m-%d %H:%M}",
             f"{v.window_start}..{v.window_end}",
             ", ".join(f"{label} {v.metrics[key]:.3f}".removesuffix(".000")
                       for key, label in MODEL_FIGURES.get(v.model_name, [])
                       if v.metrics.get(key) is not None)) for v in versions]
    print_table(("model", "version", "status", "trained_at", "window", "figures"), rows, indent=indent)


def print_segments(published: Path) -> None:
    if not published.exists():
        print("  (no published profile copy)")
        return
    with duckdb.connect(str(published), read_only=True) as con:
        cursor = sql.run(con, "demo_segment_summary")
        header = tuple(d[0] for d in cursor.description)
        rows = cursor.fetchall()
    print_table(header, rows)


def cmd_demo(args: argparse.Namespace) -> None:
    from profiling_assets import synthetic

    data_dir = settings.data_dir()
    days = _days_on_disk(data_dir)
    if args.regenerate or not days:
        print(f"Generating demo data into {data_dir} ...", flush=True)
        synthetic.generate(data_dir, users=args.users, products=args.products, days=args.days,
                           start=date.fromisoformat(args.start), seed=args.seed,
                           progress=lambda msg: print("  " + msg, flush=True))
        days = _days_on_disk(data_dir)
    else:
        print(f"Using the demo data already in {data_dir} ({len(days)} days; --regenerate to rebuild)")
    print(f"Materializing {days[0]}..{days[-1]} into {settings.warehouse_path()} ...", flush=True)
    materialize_days(days[0], days[-1], train=True)
    print("\nWarehouse summary:")
    print_summary(settings.warehouse_path())
    print("\nModels:")
    from profiling_assets import registry

    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        print_models(registry.versions(con))
    print(f"\nSegments (from the analysts' copy, {settings.published_path()}):")
    print_segments(settings.published_path())
    print("\nOpen the UI with `make ui` (dagster dev on http://127.0.0.1:3000) to browse the asset "
          "graph, partitions, checks and run history.")


def cmd_materialize(args: argparse.Namespace) -> None:
    days = _days_on_disk(settings.data_dir())
    first = args.start or (days[0] if days else None)
    last = args.end or (days[-1] if days else None)
    if not first or not last:
        raise SystemExit(f"no landing days under {settings.data_dir() / 'landing' / 'events'}; "
                         "give --start and --end")
    materialize_days(first, last, snapshots=not args.skip_snapshots)
    print_summary(settings.warehouse_path())


def cmd_summary(args: argparse.Namespace) -> None:
    path = settings.warehouse_path()
    if not path.exists():
        raise SystemExit(f"no warehouse at {path}: run `profiling-assets demo` first")
    print_summary(path)


def cmd_query(args: argparse.Namespace) -> None:
    """Run SQL against the analysts' published copy (read-only) and print the result."""
    import csv
    import json

    path = settings.published_path()
    if not path.exists():
        raise SystemExit(f"no published profile copy at {path}: run `make demo` or materialize "
                         "user_profiles first")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute(args.sql)
            if cursor.description is None:
                raise SystemExit("the statement returned no result set")
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchmany(args.limit) if args.limit else cursor.fetchall()
    except duckdb.Error as exc:
        raise SystemExit(f"query failed: {exc}") from None
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    else:
        print_table(columns, rows, indent="", rule=True)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def cmd_models(args: argparse.Namespace) -> None:
    """List model versions, or put an earlier version back into production."""
    from profiling_assets import registry
    from profiling_assets.resources import prepare_connection

    path = settings.warehouse_path()
    if not path.exists():
        raise SystemExit(f"no warehouse at {path}: run `profiling-assets demo` first")
    try:
        con = duckdb.connect(str(path), read_only=args.action == "list")
    except duckdb.IOException as exc:
        raise SystemExit(f"the warehouse is busy (a run is writing): {exc}") from None
    with con:
        if args.action == "rollback":
            prepare_connection(con)
            versions = registry.versions(con, args.model)
            current = next((v for v in versions if v.status == registry.PRODUCTION), None)
            if args.to:
                target = next((v for v in versions if v.version == args.to), None)
                if target is None:
                    raise SystemExit(f"{args.model} has no version {args.to!r}")
            else:
                # the newest version that was production before the current one
                target = next((v for v in versions if v.status == registry.RETIRED
                               and (current is None or v.trained_at < current.trained_at)), None)
                if target is None:
                    raise SystemExit(f"{args.model} has no earlier production version to roll back to")
            registry.promote(con, args.model, target.version,
                             f"rolled back from {current.version if current else 'none'}")
            print(f"{args.model}: production is now {target.version} "
                  f"(was {current.version if current else 'none'})")
        versions = registry.versions(con, args.model)
    print_models(versions, indent="")


def build_parser() -> argparse.ArgumentParser:
    from profiling_assets import importer, synthetic

    parser = argparse.ArgumentParser(prog="profiling-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    synthetic.register_cli(sub)
    importer.register_cli(sub)

    demo = sub.add_parser("demo", help="generate demo data (if absent) and materialize every day")
    demo.add_argument("--users", type=int, default=2000)
    demo.add_argument("--products", type=int, default=300)
    demo.add_argument("--days", type=int, default=14)
    demo.add_argument("--start", default=settings.DEFAULT_START_DATE)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--regenerate", action="store_true", help="rebuild the demo data first")
    demo.set_defaults(func=cmd_demo)

    mat = sub.add_parser("materialize", help="materialize every daily asset for a range of days")
    mat.add_argument("--start", help="first day (default: first landing day)")
    mat.add_argument("--end", help="last day (default: last landing day)")
    mat.add_argument("--skip-snapshots", action="store_true", help="do not reload users/products")
    mat.set_defaults(func=cmd_materialize)

    query = sub.add_parser("query", help="run SQL against the analysts' published profile copy")
    query.add_argument("sql", help='e.g. "SELECT segment_name, count(*) FROM user_profiles GROUP BY 1"')
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--limit", type=int, default=0, help="at most this many rows (0: all)")
    query.set_defaults(func=cmd_query)

    models = sub.add_parser("models", help="list model versions or roll production back")
    models.add_argument("action", choices=("list", "rollback"))
    models.add_argument("model", nargs="?", help="text_encoder, svd_model or segment_model")
    models.add_argument("--to", help="rollback: the version to restore (default: the previous "
                                     "production version)")
    models.set_defaults(func=cmd_models)

    summary = sub.add_parser("summary", help="per-day counts from the warehouse")
    summary.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Dagster flags backfill_policy as beta on every import; it is noise on a terminal.
    warnings.filterwarnings("ignore", message=".*is currently in beta")
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
