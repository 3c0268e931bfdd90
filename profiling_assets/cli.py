"""profiling-assets: import an export or generate demo data, run it through to published
profiles, train models, query the analysts' copy, summarize."""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from profiling_assets import settings, sql
from profiling_assets.terminal import Bar, paint

MODEL_ORDER = ("text_encoder", "svd_model", "segment_model", "propensity_model")
TRAIN_JOB = {"text_encoder": "train_text_encoder", "svd_model": "train_svd",
             "segment_model": "train_segments", "propensity_model": "train_propensity"}
# Demo days: churn_30d needs two 30-day label windows and two weeks of history (docs/scores.md)
DEMO_DAYS = 90
# propensity_model registers one model per target; the registry knows them by these names
PROPENSITY_MODELS = ("propensity_purchase_14d", "propensity_churn_30d", "propensity_spend_90d")


def asset_of(model_name: str) -> str:
    """The model asset that fits a registry model."""
    return "propensity_model" if model_name in PROPENSITY_MODELS else model_name



def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for a command; a file DuckDB cannot open is one line, not a
    traceback. The warehouse's path stands for the lake when the warehouse is one."""
    if settings.lake_catalog() and path == settings.warehouse_path():
        from profiling_assets import lake
        from profiling_assets.resources import warehouse_resource

        try:
            return warehouse_resource().connect_read_only()
        except lake.LakeUnavailable as exc:
            raise SystemExit(str(exc)) from None
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        first = str(exc).splitlines()[0]
        if "lock" in first.lower():
            raise SystemExit(f"{path} is in use by a running job; try again when it ends "
                             f"({first})") from None
        raise SystemExit(f"cannot open {path}: {first}") from None

def warehouse_exists() -> bool:
    """Whether there is a warehouse to read (a lake's catalog is attached, and created, on
    first use)."""
    return bool(settings.lake_catalog()) or settings.warehouse_path().exists()


def warehouse_label() -> str:
    return (f"the lake {settings.lake_catalog()}" if settings.lake_catalog()
            else str(settings.warehouse_path()))


def _check_day(value: str, option: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise SystemExit(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


def day_range(start: str | None, end: str | None) -> tuple[str, str]:
    """The days to run: --start/--end, by default the first and last landed day; checked
    against the daily partitions so that a bad range is a message, not a traceback."""
    from profiling_assets.partitions import daily_partitions

    landed = settings.landed_days()
    first = _check_day(start, "--start") if start else (landed[0] if landed else None)
    last = _check_day(end, "--end") if end else (landed[-1] if landed else None)
    if first is None or last is None:
        raise SystemExit(f"no landing days under {settings.landing_dir() / 'events'}: import an "
                         "export (`profiling-assets import`), generate demo data, or give "
                         "--start and --end")
    if last < first:
        raise SystemExit(f"--end {last} is before --start {first}")
    keys = daily_partitions.get_partition_keys()
    if not keys or first < keys[0]:
        raise SystemExit(
            f"{first} is before the first daily partition ({keys[0] if keys else 'none'}). The "
            "first partition is PROFILING_START_DATE when set, else the first landed day: unset "
            f"it or set PROFILING_START_DATE={first}")
    if last > keys[-1]:
        raise SystemExit(f"{last} has no daily partition yet: the newest is {keys[-1]} (a UTC "
                         "day becomes a partition once it has ended)")
    return first, last


def models_without_production(warehouse: Path) -> tuple[list[str], list[str]]:
    """(models with no production version, models never trained at all)."""
    from profiling_assets import registry

    if not (warehouse.exists() or settings.lake_catalog()):
        return list(MODEL_ORDER), list(MODEL_ORDER)
    with read_only(warehouse) as con:
        try:
            found = registry.versions(con)
        except duckdb.CatalogException:
            return list(MODEL_ORDER), list(MODEL_ORDER)
    production = {asset_of(v.model_name) for v in found if v.status == registry.PRODUCTION}
    trained = {asset_of(v.model_name) for v in found}
    return ([m for m in MODEL_ORDER if m not in production],
            [m for m in MODEL_ORDER if m not in trained])


def _train(inst, model: str) -> None:
    """Fit one model; a fit that is refused (too little data, a failed promotion check) is
    reported and the command goes on: the daily outputs of that model are then left out."""
    from profiling_assets import runs

    try:
        outcome = runs.run_job(inst, TRAIN_JOB[model], allow_blocked=True)
    except runs.RunFailed as exc:
        fallback = ("the daily embeddings use the packaged base model" if model == "text_encoder"
                    else "its daily outputs are left out")
        print(f"  {model} not trained: {exc} Until one is, {fallback}.", flush=True)
        return
    if not outcome.success:
        print(f"  {model}: the new version stays a candidate (a blocking check failed)", flush=True)


def run_days(first: str, last: str, *, retrain: bool = False, snapshots: bool = True) -> None:
    """Ingest first..last, train every model without a production version (all of them with
    ``retrain``), build the model outputs, segments and profiles and publish: one run per job
    over the whole range, recorded in the instance under its job."""
    from profiling_assets import runs

    inst = runs.instance()
    print(f"Runs are recorded in {os.environ['DAGSTER_HOME']}; `make ui` shows them at "
          f"{runs.ui_url()}.", flush=True)
    warehouse = settings.warehouse_path()
    if snapshots:
        runs.run_job(inst, "snapshots")
    runs.run_job(inst, "daily_ingest", first, last)
    missing, _ = models_without_production(warehouse)
    to_train = list(MODEL_ORDER) if retrain else missing
    for model in ("text_encoder", "svd_model"):
        if model in to_train:
            _train(inst, model)
    runs.run_job(inst, "daily_model_outputs", first, last)
    for model in ("segment_model", "propensity_model"):
        if model in to_train:
            _train(inst, model)
    runs.run_job(inst, "daily_profiles", first, last)


def materialize_days(first: str, last: str, *, snapshots: bool = True) -> None:
    """Every daily asset for first..last with the production models, as one run of
    daily_assets (the schedule's job)."""
    from profiling_assets import runs

    missing, never = models_without_production(settings.warehouse_path())
    if len(never) == len(MODEL_ORDER):
        raise SystemExit(
            f"no model has been trained in {warehouse_label()}: run `profiling-assets run` "
            "(ingests, trains what has no production version, builds and publishes) or "
            "`profiling-assets train` first")
    if missing:
        # some data cannot train some models (no labels for the text encoder in an order
        # export): their outputs are left out, each asset's metadata says why
        for model in missing:
            effect = ("the daily embeddings use the packaged base encoder" if model == "text_encoder"
                      else "its daily outputs are left out")
            print(f"note: no production {model}: {effect}", flush=True)
    inst = runs.instance()
    if snapshots:
        runs.run_job(inst, "snapshots")
    runs.run_job(inst, "daily_assets", first, last)


def _cell(value) -> str:
    """A value as a reader wants it: floats to 4 significant digits (whole from 1,000 on),
    lists comma-separated, structs as name=value, None blank."""
    if value is None:
        return ""
    if isinstance(value, float | Decimal):  # thousands whole with separators, else 4 digits
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) + "}"
    return str(value)


QUERY_CELL_WIDTH = 40  # a terminal table stays readable; csv, json and parquet keep everything


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(header, rows, *, indent: str = "  ", right: bool = False, rule: bool = False,
                width: int | None = None) -> None:
    """Columns aligned on the widest cell (cut at ``width`` characters when given); numbers
    right-aligned where ``right``."""
    cells = [[_cell(v) if width is None else _clip(_cell(v), width) for v in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *cells, strict=True)]
    lines = [[str(h) for h in header], *([["-" * w for w in widths]] if rule else []), *cells]
    for line in lines:
        text = "  ".join(v.rjust(w) if right else v.ljust(w) for v, w in zip(line, widths, strict=True))
        print(indent + text.rstrip())


SUMMARY_DAYS = 31  # a longer history shows its last days and the totals
# One line per clean-layer quarantine reason, for `summary` (the rules: README, Clean layer).
QUARANTINE_REASONS = {
    "bot": "every event of a user with >= 60 browsing events in a minute or >= 1000 in a day "
           "(robots, scrapers); listed in clean.bot_users",
    "exact_duplicate": "the same line delivered twice; the first copy is kept",
    "duplicate_event_id": "a different event reusing an event_id already kept",
    "wrong_day": "a timestamp on another UTC day than its landing folder; kept for a replay",
    "future_timestamp": "more than 10 minutes after the cleaning run",
    "negative_price": "a price below zero",
    "bad_quantity": "a cart, purchase or return quantity of zero or less",
    "bad_rating": "a review without a rating in 1-5",
}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def totals_line(lines: int, accepted: int, rejected: int, clean: int, quarantined: int, *,
                days: int) -> str:
    """Where every line of the range went, in shares: read = accepted + rejected (raw layer),
    accepted = clean + quarantined (clean layer)."""
    return (f"{days} day(s), {lines:,} lines read: {accepted:,} accepted "
            f"({_share(accepted, lines)}), {rejected:,} rejected at the raw layer "
            f"({_share(rejected, lines)}); of the accepted, {clean:,} clean "
            f"({_share(clean, accepted)}) and {quarantined:,} quarantined "
            f"({_share(quarantined, accepted)})")


def print_summary(warehouse: Path, every_day: bool = False) -> None:
    with read_only(warehouse) as con:
        rows = sql.query(con, "demo_summary")
    # daily active users do not add up over days: the total leaves that column empty
    totals = ("total", *(sum(r[i] for r in rows) for i in range(1, 6)), None,
              sum(r[7] for r in rows))
    shown = rows if every_day else rows[-SUMMARY_DAYS:]
    if len(rows) > len(shown):
        print(f"  (last {len(shown)} of {len(rows)} days; `profiling-assets summary --all` lists every day)")
    empty = sum(1 for r in rows if r[1] == 0)
    print_table(("day", "lines", "accepted", "rejected", "clean", "quarantined", "users", "purchases"),
                [*shown, totals], right=True)
    if empty:
        print(f"  {empty} day(s) without landing files (closed days: empty partitions)")
    if rows:
        print("  " + totals_line(*totals[1:6], days=len(rows)))
        with read_only(warehouse) as con:
            reasons = sql.query(con, "summarize_quarantine_reasons", first_day=rows[0][0],
                                last_day=rows[-1][0])
        for reason, n, share in reasons:
            why = QUARANTINE_REASONS.get(reason, "see the README's clean-layer rules")
            print(f"  quarantined {reason}: {n:,} rows, {share or 0:.1%} of the accepted rows: {why}")


# The headline figures of each model kind, as (metric key, label).
MODEL_FIGURES = {
    "text_encoder": [("score", "score"), ("frozen_score", "frozen base score"),
                     ("macro_f1", "macro-F1"), ("pairs_recall_at_10", "pair recall@10"),
                     ("frozen_pairs_recall_at_10", "frozen pair recall@10"),
                     ("max_length", "max_length")],
    "svd_model": [("recall_at_10", "recall@10"),
                  ("strongest_baseline_recall_at_10", "strongest baseline recall@10"),
                  ("lift_over_strongest_baseline", "lift"), ("ndcg_at_10", "NDCG@10"),
                  ("coverage_at_10", "coverage")],
    "segment_model": [("k", "k"), ("silhouette", "silhouette"),
                      ("ari_vs_archetypes", "ARI vs planted archetypes")],
    "propensity_purchase_14d": [("roc_auc", "ROC-AUC"), ("lift_top_decile", "top-decile lift"),
                                ("brier", "Brier")],
    "propensity_churn_30d": [("roc_auc", "ROC-AUC"), ("lift_top_decile", "top-decile lift"),
                             ("brier", "Brier")],
    "propensity_spend_90d": [("rmse", "RMSE"), ("rmse_skill", "RMSE skill"), ("spearman", "Spearman")],
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
    with read_only(published) as con:
        cursor = sql.run(con, "demo_segment_summary")
        header = tuple(d[0] for d in cursor.description)
        rows = cursor.fetchall()
    print_table(header, rows)


def cmd_demo(args: argparse.Namespace) -> None:
    from profiling_assets import synthetic

    data_dir = settings.data_dir()
    days = settings.landed_days(data_dir)
    if args.regenerate or not days:
        print(f"Generating demo data into {data_dir} ...", flush=True)
        # by default the demo ends yesterday (UTC): every day of it is a daily partition
        start = (_check_day(args.start, "--start") if args.start else
                 (datetime.now(UTC).date() - timedelta(days=args.days)).isoformat())
        with Bar("generate", args.days, unit="days", rows_label="lines") as bar:
            synthetic.generate(data_dir, users=args.users, products=args.products,
                               days=args.days, start=date.fromisoformat(start), seed=args.seed,
                               progress=bar)
        days = settings.landed_days(data_dir)
    else:
        print(f"Using the demo data already in {data_dir} ({len(days)} days; --regenerate to rebuild)")
    _run_and_report(days[0], days[-1], retrain=False, snapshots=True)


def _run_and_report(first: str, last: str, *, retrain: bool, snapshots: bool) -> None:
    from profiling_assets import runs

    started = time.perf_counter()
    print(f"Running {first}..{last} into {warehouse_label()} ...", flush=True)
    try:
        run_days(first, last, retrain=retrain, snapshots=snapshots)
    except runs.RunFailed as exc:
        raise SystemExit(str(exc)) from None
    print(f"\nDone in {time.perf_counter() - started:.0f} s.")
    print_report()


def print_report() -> None:
    """The warehouse summary, the models' figures and the segment table."""
    from profiling_assets import registry, runs

    print("\n" + paint("Warehouse summary:", "bold"))
    print_summary(settings.warehouse_path())
    print("\n" + paint("Models:", "bold"))
    with read_only(settings.warehouse_path()) as con:
        print_models(registry.versions(con))
    print("\n" + paint(f"Segments (from the analysts' copy, {settings.published_path()}):", "bold"))
    print_segments(settings.published_path())
    print("\nQuery the profiles with `profiling-assets query \"SELECT * FROM user_profiles LIMIT 5\"`; "
          f"open the UI with `make ui` (`dg dev`, {runs.ui_url()}) to browse the asset graph, "
          "partitions, checks and the runs above.")


def cmd_run(args: argparse.Namespace) -> None:
    first, last = day_range(args.start, args.end)
    _run_and_report(first, last, retrain=args.retrain, snapshots=not args.skip_snapshots)


def cmd_train(args: argparse.Namespace) -> None:
    from profiling_assets import runs

    unknown = [m for m in args.models if m not in MODEL_ORDER]
    if unknown:
        raise SystemExit(f"unknown model {', '.join(unknown)}: choose from {', '.join(MODEL_ORDER)}")
    inst = runs.instance()
    for model in [m for m in MODEL_ORDER if m in (args.models or MODEL_ORDER)]:
        _train(inst, model)
    from profiling_assets import registry

    with read_only(settings.warehouse_path()) as con:
        print_models(registry.versions(con))


def cmd_materialize(args: argparse.Namespace) -> None:
    from profiling_assets import runs

    first, last = day_range(args.start, args.end)
    try:
        materialize_days(first, last, snapshots=not args.skip_snapshots)
    except runs.RunFailed as exc:
        raise SystemExit(str(exc)) from None
    print_summary(settings.warehouse_path())


def cmd_summary(args: argparse.Namespace) -> None:
    path = settings.warehouse_path()
    if not warehouse_exists():
        raise SystemExit(f"no warehouse at {path}: run `profiling-assets demo` first")
    print_summary(path, every_day=args.all)


def cmd_query(args: argparse.Namespace) -> None:
    """Run SQL against the analysts' published copy (sandboxed, read-only) and print it."""
    import csv
    import json

    from profiling_assets.analysts import QueryRefused, run_query

    try:
        result = run_query(args.sql, limit=args.limit, timeout_s=args.timeout)
    except QueryRefused as exc:
        raise SystemExit(str(exc)) from None
    columns, rows = result.columns, result.rows
    if args.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not args.output:
            raise SystemExit("query: --format parquet writes a file: give --output FILE")
        table = pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows])
        pq.write_table(table, args.output)
        print(f"{len(rows):,} row(s) written to {args.output}", file=sys.stderr)
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    else:
        print_table(columns, rows, indent="", rule=True, width=QUERY_CELL_WIDTH)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    if result.truncated:
        print(f"(only the first {args.limit:,} rows; --limit 0 for all)", file=sys.stderr)


def cmd_models(args: argparse.Namespace) -> None:
    """List model versions, or put an earlier version back into production."""
    from profiling_assets import registry
    from profiling_assets.resources import prepare_connection

    known = (*MODEL_ORDER, *PROPENSITY_MODELS)
    if args.model is not None and args.model not in known:
        raise SystemExit(f"unknown model {args.model!r}: choose from {', '.join(known)}")
    rollbackable = [m for m in known if m != "propensity_model"]
    if args.action == "rollback" and args.model not in rollbackable:
        raise SystemExit(f"models rollback needs one registry model: one of {', '.join(rollbackable)} "
                         "(propensity_model keeps a version per target)")
    path = settings.warehouse_path()
    if not warehouse_exists():
        raise SystemExit(f"no warehouse at {path}: run `profiling-assets demo` first")
    if args.action != "list" and settings.lake_catalog():
        raise SystemExit("models rollback works on the embedded warehouse file; on a lake, "
                         "run the model's asset with the wanted version from the Dagster UI")
    if args.action == "list":
        con = read_only(path)
    else:
        from profiling_assets.resources import open_warehouse

        con = open_warehouse(path)
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
        if args.model == "propensity_model":
            versions = [v for name in PROPENSITY_MODELS for v in registry.versions(con, name)]
        else:
            versions = registry.versions(con, args.model)
    print_models(versions, indent="")


def cmd_forget(args: argparse.Namespace) -> None:
    """Remove users from every warehouse table, republish, and suppress them at ingest."""
    from profiling_assets import forget

    if settings.lake_catalog():
        # DuckLake keeps every snapshot's Parquet files until they expire: a delete alone
        # would leave the rows readable by time travel and on disk
        raise SystemExit("forget: not available on a lake warehouse yet (DuckLake keeps "
                         "deleted rows in earlier snapshots' files); see the README's "
                         "DuckLake section")

    ids = list(args.user_ids)
    try:
        if args.file:
            ids += forget.read_id_file(Path(args.file))
        if not any(i.strip() for i in ids):
            raise SystemExit("forget: give at least one USER_ID or --file with one id per line")
        report = forget.forget_users(ids, compact=args.compact)
    except (forget.ForgetError, ValueError) as exc:
        raise SystemExit(f"forget: {exc}") from None
    for user in report.users:
        if user.found:
            print(f"forgot {user.user_id}: {user.total:,} rows from {len(user.rows)} tables "
                  f"({', '.join(f'{t} {n:,}' for t, n in user.rows.items())})")
        else:
            print(f"not found: {user.user_id} is in no table (suppressed for future ingest anyway)")
    print(f"suppressed {len(report.users)} id(s) at ingest; deletion log in meta.deletion_log"
          + (f"; republished {report.published}" if report.published else "")
          + ("; warehouse file rewritten" if report.compacted else
             " (deleted rows' bytes stay in the file until --compact)"))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its -h line: appended unless the text already gives it, and
    left out where there is none to give (a flag is off unless given; None means unset)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from profiling_assets import importer, synthetic

    parser = argparse.ArgumentParser(
        prog="profiling-assets", formatter_class=HelpFormatter,
        description=f"{__doc__.strip()} Colour and progress bars on a terminal only (NO_COLOR "
                    "turns colour off); run links point at PROFILING_UI_URL (default "
                    "http://127.0.0.1:3000).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    synthetic.register_cli(sub)
    importer.register_cli(sub)

    def command(name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
        # the one-line summary in the command list, the whole text and every default in -h
        return sub.add_parser(name, help=summary, description=f"{summary}. {details}".strip(),
                              formatter_class=HelpFormatter)

    demo = command("demo", "generate demo data (if absent), then 'run' over its days",
                   "The data goes to $PROFILING_DATA_DIR (default ./data); runs are recorded "
                   "in $DAGSTER_HOME for the UI.")
    demo.add_argument("--users", type=int, default=2000, help="demo users")
    demo.add_argument("--products", type=int, default=300, help="demo products")
    demo.add_argument("--days", type=int, default=DEMO_DAYS,
                      help="days of events (90: enough history for the churn model's time split)")
    demo.add_argument("--start", default=None,
                      help="first day, YYYY-MM-DD (default: the demo ends yesterday, UTC)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generator")
    demo.add_argument("--regenerate", action="store_true", help="rebuild the demo data first")
    demo.set_defaults(func=cmd_demo)

    run = command("run", "landed data to published profiles: ingest, train what has no "
                         "production model, build outputs, segments and profiles, publish",
                  "One run per job over the whole range, recorded for the UI.")
    run.add_argument("--start", help="first day (default: the first landed day)")
    run.add_argument("--end", help="last day (default: the last landed day)")
    run.add_argument("--retrain", action="store_true",
                     help="fit every model anew, not only those without a production version")
    run.add_argument("--skip-snapshots", action="store_true", help="do not reload users/products")
    run.set_defaults(func=cmd_run)

    train = command("train", "fit models by hand (promoted when their checks pass)")
    train.add_argument("models", nargs="*", metavar="MODEL",
                       help=f"any of {', '.join(MODEL_ORDER)} (default: all, in that order)")
    train.set_defaults(func=cmd_train)

    mat = command("materialize", "every daily asset for a range of days with the production "
                                 "models (one run of daily_assets)",
                  "Refuses a warehouse whose models were never trained: use 'run' first.")
    mat.add_argument("--start", help="first day (default: first landing day)")
    mat.add_argument("--end", help="last day (default: last landing day)")
    mat.add_argument("--skip-snapshots", action="store_true", help="do not reload users/products")
    mat.set_defaults(func=cmd_materialize)

    query = command("query", "run SQL against the analysts' published profile copy",
                    "Sandboxed: read-only, no other files, ATTACH, COPY or extensions.")
    query.add_argument("sql", help='e.g. "SELECT segment_name, count(*) FROM user_profiles GROUP BY 1"')
    query.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table",
                       help="table: readable, cells cut at 40 characters; csv, json: whole values "
                            "on standard output; parquet: a file (--output)")
    query.add_argument("--output", help="the file --format parquet writes")
    query.add_argument("--limit", type=int, default=1000,
                       help="at most this many rows (0: all)")
    query.add_argument("--timeout", type=float, default=60.0,
                       help="stop the query after this many seconds (0: never)")
    query.set_defaults(func=cmd_query)

    models = command("models", "list model versions or roll production back")
    models.add_argument("action", choices=("list", "rollback"),
                        help="list: every version with its status and figures; rollback: put "
                             "an earlier version back into production")
    models.add_argument("model", nargs="?",
                        help="text_encoder, svd_model, segment_model, propensity_model (list only), "
                             "or one propensity target: " + ", ".join(PROPENSITY_MODELS)
                             + " (default: every model)")
    models.add_argument("--to", help="rollback: the version to restore (default: the previous "
                                     "production version)")
    models.set_defaults(func=cmd_models)

    forget = command("forget", "remove users from every warehouse table and the analysts' copy, "
                               "and suppress them at ingest (docs/privacy.md)")
    forget.add_argument("user_ids", nargs="*", metavar="USER_ID",
                        help="the ids of the users to forget (or --file)")
    forget.add_argument("--file", help="a file of user ids, one per line (# comments allowed)")
    forget.add_argument("--compact", action="store_true",
                        help="then rewrite the warehouse file so that no deleted bytes remain "
                             "(takes as long as copying the warehouse)")
    forget.set_defaults(func=cmd_forget)

    summary = command("summary", "per-day counts from the warehouse",
                      "Lines read, accepted, rejected, clean and quarantined per day, the models "
                      "and the segments; each quarantine reason's share explained.")
    summary.add_argument("--all", action="store_true",
                         help=f"every day (default: the last {SUMMARY_DAYS} and the totals)")
    summary.set_defaults(func=cmd_summary)
    for name, command_parser in sub.choices.items():  # generate and import are registered above
        command_parser.formatter_class = HelpFormatter
        command_parser.prog = f"profiling-assets {name}"
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    problems = settings.configuration_problems()
    if problems:
        raise SystemExit("configuration: " + "\nconfiguration: ".join(problems))
    try:
        args.func(args)
    except settings.WarehouseUnavailable as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
