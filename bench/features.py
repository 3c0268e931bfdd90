"""Feature benchmark: cost of one day of user_daily_activity + user_features at day 1 and at
day 60 of a 100k-user history (goal: day 60 <= 1.5 x day 1, i.e. cost flat in history).

    .venv/bin/python bench/features.py [--users 100000] [--days 60] [--events-per-day 150000] [--keep DIR]

Generates the demo data (child process), ingests and cleans every day, builds the daily
activity for all days, then times the activity + features of day 1, day 30 and day 60 against
the same warehouse (three repetitions each, best kept), and the cost per feature row: the
window's users grow from day 1 to day 60 (about 17k to 94k on the defaults), so the total
grows with them even where the cost of a user's row does not.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.features import build_user_daily_activity, build_user_features
from profiling_assets.ingest import ingest_day, load_snapshot
from profiling_assets.resources import prepare_connection

START = date(2026, 6, 1)


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--events-per-day", type=int, default=150_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated data and warehouse here")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-features-"))
    days = [(START + timedelta(days=i)).isoformat() for i in range(args.days)]
    warehouse = root / "bench.duckdb"
    if not (root / "landing" / "events" / f"dt={days[-1]}").is_dir():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "profiling_assets.cli", "generate", "--data-dir", str(root),
                        "--users", str(args.users), "--products", "5000", "--days", str(args.days),
                        "--start", START.isoformat(), "--events-per-day", str(args.events_per_day)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"generated {args.days} days in {time.perf_counter() - started:.0f}s into {root}")
        warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    prepare_connection(con)
    if con.execute("SELECT count(DISTINCT event_date) FROM clean.events").fetchone()[0] < len(days):
        started = time.perf_counter()
        load_snapshot(con, "users", sorted((root / "landing" / "users").glob("*.csv")))
        load_snapshot(con, "products", sorted((root / "landing" / "products").glob("*.csv")))
        for day in days:
            ingest_day(con, day, root)
            clean_day(con, day, CleaningConfig())
            build_user_daily_activity(con, day)
        print(f"ingested, cleaned and aggregated {len(days)} days in {time.perf_counter() - started:.0f}s")
    events = con.execute("SELECT count(*) FROM clean.events").fetchone()[0]
    print(f"history: {events:,} clean events, {args.users:,} users, {len(days)} days")

    results, per_row = {}, {}
    for label, day in (("day 1", days[0]), ("day 30", days[min(29, len(days) - 1)]), (f"day {len(days)}", days[-1])):
        activity = min(timed(build_user_daily_activity, con, day) for _ in range(3))
        feats = min(timed(build_user_features, con, day) for _ in range(3))
        rows = con.execute("SELECT count(*) FROM features.user_features WHERE feature_date = ?", [day]).fetchone()[0]
        results[label] = activity + feats
        per_row[label] = (activity + feats) / max(rows, 1)
        print(f"{label:>7} ({day}): user_daily_activity {activity:5.2f}s  user_features {feats:5.2f}s  "
              f"total {activity + feats:5.2f}s  ({rows:,} feature rows)")
    last = f"day {len(days)}"
    print(f"ratio {last} / day 1: {results[last] / results['day 1']:.2f}  (goal <= 1.5)")
    # the window's population grows with the days (a user stays for 90 days after their last
    # event), so the total cannot be flat while the users are still arriving; the cost of one
    # user's row is what history could make grow
    print(f"per feature row: day 1 {per_row['day 1'] * 1e6:.1f} us, {last} {per_row[last] * 1e6:.1f} us; "
          f"ratio {per_row[last] / per_row['day 1']:.2f}")


if __name__ == "__main__":
    main()
