"""Recommendation benchmark: the real evaluation protocol (profiling_assets.recommenders) on
the two generator profiles, through the warehouse.

    .venv/bin/python bench/recommendations.py [--datasets demo orders] [--orders-days 365]
                                              [--keep DIR]

For each dataset the project's own generator writes landing files into a temporary folder
(synthetic.generate with the demo defaults; synthetic.generate_orders with its defaults,
optionally fewer days), every day is ingested and cleaned into a DuckDB warehouse with the
pipeline's functions (ingest_day, clean_day), and recommenders.evaluate runs on clean.events
with the svd_model defaults. Prints the evaluation table (outer split), the window chosen,
the re-order share, the blend, and one line per dataset:

    orders: winner <family> recall@10 <x> = <r>x strongest baseline (<name> <y>)

Goals: orders >= 1.1x the strongest baseline; demo >= 2x plain popularity and above buy-again.
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import duckdb

warnings.filterwarnings("ignore")  # dagster's beta notices on import of the asset modules

from profiling_assets import recommenders as R
from profiling_assets import settings, synthetic
from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.factorization import DEFAULT_WEIGHTS, promotion_decision
from profiling_assets.factors import SvdModelConfig
from profiling_assets.ingest import ingest_day, load_snapshot
from profiling_assets.metadata import markdown_table
from profiling_assets.resources import prepare_connection


def build(kind: str, root: Path, orders_days: int) -> Path:
    """Generate one dataset and load it into root/warehouse.duckdb (reused when present)."""
    warehouse = root / "warehouse.duckdb"
    if warehouse.exists():
        return warehouse
    started = time.perf_counter()
    if kind == "orders":
        synthetic.generate_orders(root, days=orders_days)
    else:
        synthetic.generate(root)
    days = settings.landed_days(root)
    con = duckdb.connect(str(warehouse))
    prepare_connection(con)
    load_snapshot(con, "products", sorted((root / "landing" / "products").glob("*.csv")))
    for day in days:
        ingest_day(con, day, root)
        clean_day(con, day, CleaningConfig())
    events, users = con.execute("SELECT count(*), count(DISTINCT user_id) FROM clean.events").fetchone()
    con.close()
    print(f"{kind}: {len(days)} days, {events:,} clean events, {users:,} users "
          f"(generated and loaded in {time.perf_counter() - started:.0f} s)", flush=True)
    return warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["demo", "orders"], choices=["demo", "orders"])
    parser.add_argument("--orders-days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="generate into / reuse this folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-recs-"))
    lines = []
    for kind in args.datasets:
        warehouse = build(kind, base / kind, args.orders_days)
        params = R.Params(weights=dict(DEFAULT_WEIGHTS))
        started = time.perf_counter()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            out = R.evaluate(con, params)
        seconds = time.perf_counter() - started
        M, plan = out.metrics, out.plan
        print(f"\n== {kind}: {plan.first_day}..{plan.last_day}; horizon {plan.horizon} days from "
              f"{plan.outer_cutoff} (inner split {plan.inner_cutoff}); {M['eval_users']:,} users "
              f"evaluated; protocol {seconds:.1f} s")
        print(f"window: {plan.window_reason}")
        blend = (f"{out.slots} of {params.n} places buy-again, then {out.tail}" if out.winner != R.RERANKED
                 else f"per user by the re-ranker over bought + {M['reranked_family']} candidates")
        print(f"re-order share (inner split): {M['reorder_share']:.3f}; blend: {blend}")
        if out.inner.rerank is not None:
            top = sorted(out.inner.rerank.importances.items(), key=lambda kv: -kv[1])[:6]
            print("re-ranker (" + M["reranked_family"] + " candidates) permutation importance: "
                  + ", ".join(f"{f} {v:.3f}" for f, v in top))
        print(markdown_table(R.TABLE_HEADER, out.table))
        best = M["strongest_baseline_recall_at_10"]
        lines.append(f"{kind}: winner {out.winner} recall@10 {M['recall_at_10']:.4f} = "
                     f"{M['lift_over_strongest_baseline']:.2f}x strongest baseline "
                     f"({out.strongest_baseline} {best:.4f}); "
                     f"{M['lift_over_popularity']:.2f}x popularity, {M['lift_over_buy_again']:.2f}x buy_again")
        promoted, why = promotion_decision(M, SvdModelConfig().min_recall_at_10)
        lines.append(f"  {'promoted' if promoted else 'not promoted'}: {why}")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
