"""Predictive-traits benchmark: the propensity_model asset, with its defaults, on the two
generator profiles.

    .venv/bin/python bench/propensity.py [--datasets demo orders] [--demo-days 90]
                                         [--orders-days 365] [--keep DIR]

For each dataset the project's generator writes landing files into a temporary folder (the
demo's defaults with --demo-days days; generate_orders with its defaults), every day is
ingested, cleaned and turned into user_daily_activity and user_features with the pipeline's
functions, and propensity_model is materialized on that warehouse. Prints, per target, the
validation figures of every candidate and baseline (ROC-AUC, PR-AUC, Brier, top-decile lift;
for spend MAE, RMSE, Spearman), the winner and whether it was promoted, targets refused with
their reason, and one line per dataset and target:

    demo purchase_14d: <winner> ROC-AUC <x> (logistic_regression <y>; goal >= 0.85 and above it)

Goals: demo ROC-AUC >= 0.85 for purchase_14d and churn_30d, each above logistic regression;
orders churn_30d ROC-AUC >= 0.75.
"""

import argparse
import os
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import duckdb

warnings.filterwarnings("ignore")  # dagster's beta notices on import of the asset modules

from profiling_assets import settings, synthetic
from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.features import build_user_daily_activity, build_user_features
from profiling_assets.ingest import ingest_day, load_snapshot
from profiling_assets.metadata import markdown_table
from profiling_assets.resources import prepare_connection

GOALS = {("demo", "purchase_14d"): 0.85, ("demo", "churn_30d"): 0.85, ("orders", "churn_30d"): 0.75}


def build(kind: str, root: Path, demo_days: int, orders_days: int) -> Path:
    """Generate one dataset and load it up to user_features (reused when present)."""
    warehouse = root / "warehouse" / "profiling.duckdb"
    if warehouse.exists():
        return warehouse
    started = time.perf_counter()
    if kind == "orders":
        synthetic.generate_orders(root, days=orders_days)
    else:
        yesterday = date.today() - timedelta(days=1)
        synthetic.generate(root, days=demo_days, start=yesterday - timedelta(days=demo_days - 1))
    days = settings.landed_days(root)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    prepare_connection(con)
    for what in ("products", "users"):
        files = sorted((root / "landing" / what).glob("*.csv"))
        if files:
            load_snapshot(con, what, files)
    for day in days:
        ingest_day(con, day, root)
        clean_day(con, day, CleaningConfig())
    # every calendar day, closed days included, as a run over the range builds them
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    calendar = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    for i in range(0, len(calendar), 31):
        build_user_daily_activity(con, calendar[i], calendar[min(i + 30, len(calendar) - 1)])
    for day in calendar:
        build_user_features(con, day)
    users = con.execute("SELECT count(DISTINCT user_id) FROM features.user_daily_activity").fetchone()[0]
    con.close()
    print(f"{kind}: {len(days)} days, {users:,} users up to user_features "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return warehouse


def train(root: Path, warehouse: Path):
    import dagster as dg

    from profiling_assets import scores
    from profiling_assets.resources import pipeline_resources

    os.environ["PROFILING_DATA_DIR"] = str(root)
    os.environ["PROFILING_WAREHOUSE"] = str(warehouse)
    started = time.perf_counter()
    result = dg.materialize([scores.propensity_model], resources=pipeline_resources(),
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    seconds = time.perf_counter() - started
    meta = result.asset_materializations_for_node("propensity_model")[0].metadata
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    return meta, checks, seconds


def report(kind: str, warehouse: Path, meta, checks, seconds: float) -> list[str]:
    from profiling_assets import propensity as P
    from profiling_assets import registry
    from profiling_assets.scores import check_name, registry_name

    print(f"\n== {kind}: propensity_model in {seconds:.0f} s; churn: {meta['churn_definition'].value}")
    lines = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for target, t in P.TARGETS.items():
            check = checks[check_name(target)]
            found = registry.versions(con, registry_name(target))
            if not found:
                print(f"\n{check.description}")
                lines.append(f"{kind} {check.description}")
                continue
            v = found[0]
            m = v.metrics
            print(f"\n{target} ({m['window_days']}-day window; {m['train_examples']:,} training and "
                  f"{m['validation_examples']:,} validation examples; winner {m['winner']}, {v.status})")
            rows = []
            for name, e in m["candidates"].items():
                if t.kind == P.BINARY:
                    rows.append([name, f"{e['roc_auc']:.4f}", f"{e['pr_auc']:.4f}",
                                 f"{e['brier']:.4f}" if "brier" in e else "",
                                 f"{e['lift_top_decile']:.2f}"])
                else:
                    rows.append([name, f"{e['mae']:,.2f}", f"{e['rmse']:,.2f}", f"{e['spearman']:.4f}"])
            header = (["scorer", "ROC-AUC", "PR-AUC", "Brier", "lift top decile"] if t.kind == P.BINARY
                      else ["scorer", "MAE", "RMSE", "Spearman"])
            print(markdown_table(header, rows))
            print(f"  check: {'passed' if check.passed else 'failed'}: {check.description}")
            if t.kind == P.BINARY:
                auc, lr = m["roc_auc"], m["candidates"][P.LINEAR]["roc_auc"]
                goal = GOALS.get((kind, target))
                aim = (f"; goal >= {goal}{' and above it' if kind == 'demo' else ''}: "
                       f"{'met' if auc >= goal and (kind != 'demo' or auc >= lr) else 'missed'}"
                       if goal else "")
                lines.append(f"{kind} {target}: {m['winner']} ROC-AUC {auc:.4f} "
                             f"(logistic_regression {lr:.4f}{aim})")
            else:
                base = m["candidates"][P.BASELINE_SPEND]["rmse"]
                lines.append(f"{kind} {target}: {m['winner']} RMSE {m['rmse']:,.2f} vs last 90 days' "
                             f"spend {base:,.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["demo", "orders"], choices=["demo", "orders"])
    parser.add_argument("--demo-days", type=int, default=90)
    parser.add_argument("--orders-days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="generate into / reuse this folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-propensity-"))
    lines = []
    for kind in args.datasets:
        root = base / kind
        warehouse = build(kind, root, args.demo_days, args.orders_days)
        os.environ["PROFILING_START_DATE"] = settings.landed_days(root)[0]
        meta, checks, seconds = train(root, warehouse)
        lines += report(kind, warehouse, meta, checks, seconds)
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
