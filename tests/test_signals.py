"""What the data offers over a window (the counts behind "missing inputs"): summed from the
per-day counts cleaned_events stores, equal to counting the window's events, also for a
warehouse cleaned before those counts existed, after a day is rebuilt and after a forget."""

from datetime import date

import duckdb

from profiling_assets import synthetic
from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.forget import forget
from profiling_assets.ingest import ingest_day, load_snapshot
from profiling_assets.resources import prepare_connection
from profiling_assets.signals import data_signals

DAYS = ["2026-10-01", "2026-10-02", "2026-10-03"]

# the window's events counted directly, as the counts were taken before they were stored
COUNTED = """
SELECT count(*), count(*) FILTER (event_type = 'view'), count(*) FILTER (event_type = 'cart'),
       count(*) FILTER (event_type = 'purchase'),
       count(*) FILTER (event_type = 'review' AND nullif(trim(review_text), '') IS NOT NULL),
       count(*) FILTER (event_type = 'review' AND rating IS NOT NULL),
       count(*) FILTER (event_type = 'search' AND nullif(trim(query), '') IS NOT NULL),
       count(*) FILTER (product_id IS NOT NULL AND category IS NOT NULL),
       count(*) FILTER (product_id IS NOT NULL AND brand IS NOT NULL),
       count(*) FILTER (event_type = 'purchase' AND price IS NOT NULL),
       count(*) FILTER (session_id IS NOT NULL)
FROM clean.events WHERE event_date BETWEEN ? AND ?"""
NAMES = ["events", "views", "carts", "purchases", "reviews", "ratings", "searches",
         "events_with_category", "events_with_brand", "purchases_with_price", "events_with_session"]


def counted(con, first: str, last: str) -> dict[str, int]:
    return dict(zip(NAMES, con.execute(COUNTED, [first, last]).fetchone(), strict=True))


def stored(con, first: str, last: str) -> dict[str, int]:
    counts = data_signals(con, date.fromisoformat(first), date.fromisoformat(last)).counts
    return {n: counts[n] for n in NAMES}


def test_window_counts_come_from_the_stored_days_and_match_the_events(data_dir):
    synthetic.generate(data_dir, users=60, products=40, days=len(DAYS), start=date(2026, 10, 1),
                       seed=3)
    path = data_dir / "warehouse" / "w.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    prepare_connection(con)
    load_snapshot(con, "products", sorted((data_dir / "landing" / "products").glob("*.csv")))
    for day in DAYS:
        ingest_day(con, day, data_dir)
        clean_day(con, day, CleaningConfig())
    assert con.execute("SELECT count(*) FROM clean.event_signals").fetchone()[0] == len(DAYS)
    whole = counted(con, DAYS[0], DAYS[-1])
    assert whole["events"] > 500 and whole["reviews"] > 0 and whole["searches"] > 0
    assert stored(con, DAYS[0], DAYS[-1]) == whole
    assert stored(con, DAYS[1], DAYS[1]) == counted(con, DAYS[1], DAYS[1])
    # a rebuilt day replaces its counts
    clean_day(con, DAYS[1], CleaningConfig())
    assert stored(con, DAYS[0], DAYS[-1]) == whole

    # a warehouse cleaned before the counts were stored gets them when its schema changes
    con.execute("DELETE FROM clean.event_signals WHERE event_date <> ?", [DAYS[1]])
    con.execute("UPDATE meta.schema_state SET digest = 'an older schema'")
    con.close()
    con = duckdb.connect(str(path))
    prepare_connection(con)
    assert con.execute("SELECT count(*) FROM clean.event_signals").fetchone()[0] == len(DAYS)
    assert stored(con, DAYS[0], DAYS[-1]) == whole

    # a forgotten user's events leave the counts with them
    user, events = con.execute("SELECT user_id, count(*) FROM clean.events GROUP BY 1 "
                               "ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
    forget(con, [user], key="test-key")
    after = stored(con, DAYS[0], DAYS[-1])
    assert after == counted(con, DAYS[0], DAYS[-1])
    assert after["events"] == whole["events"] - events
    con.close()
