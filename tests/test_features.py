"""Features against a hand-written event set with hand-computed values for every family."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from profiling_assets.features import build_user_daily_activity, build_user_features
from profiling_assets.resources import prepare_connection, warehouse_resource

PRODUCTS = [  # product_id, category, brand, list price; medians: books 20, toys 20
    ("P1", "books", "A", 10.0),
    ("P2", "books", "B", 30.0),
    ("P3", "toys", "C", 20.0),
]
CATALOGUE = {p[0]: p for p in PRODUCTS}
EVENTS = [  # user, UTC time, session, type, product, price, quantity
    ("U1", "2026-10-01 08:00:00", "s1", "view", "P1", 10.0, None),
    ("U1", "2026-10-01 08:01:00", "s1", "cart", "P1", 10.0, 1),
    ("U1", "2026-10-01 08:02:00", "s1", "purchase", "P1", 10.0, 2),
    ("U1", "2026-10-01 08:03:00", "s1", "search", None, None, None),
    ("U1", "2026-10-05 20:00:00", "s2", "view", "P3", 20.0, None),
    ("U1", "2026-10-05 20:05:00", "s2", "view", "P2", 30.0, None),
    ("U1", "2026-10-05 21:00:00", "s3", "purchase", "P2", 30.0, 1),
    ("U1", "2026-10-05 21:30:00", "s3", "return", "P1", 10.0, 1),
    ("U1", "2026-11-02 13:00:00", "s4", "view", "P3", 20.0, None),
    ("U2", "2026-10-01 00:00:00", "t1", "view", "P3", 20.0, None),
    ("U2", "2026-10-01 23:59:59", "t1", "purchase", "P3", 20.0, 1),
    ("U3", "2026-07-15 12:00:00", "u1", "view", "P1", 10.0, None),
]
DAYS = ["2026-07-15", "2026-10-01", "2026-10-05", "2026-11-02"]


def insert_events(con, events, first_line: int = 0) -> None:
    """Insert (user, UTC time, session, type, product, price, quantity) rows into clean.events,
    with the product's category and brand."""
    for n, (user, ts, session, kind, product, price, quantity) in enumerate(events, start=first_line):
        _, category, brand, _ = CATALOGUE.get(product, (None, None, None, None))
        con.execute(
            "INSERT INTO clean.events (event_date, event_id, ts, user_id, session_id, event_type, product_id, "
            "in_catalog, category, brand, price, quantity, source_file, line_no, cleaned_at) "
            "VALUES (?::TIMESTAMP::DATE, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test', ?, now())",
            [ts, f"e{n}", ts, user, session, kind, product, product is not None, category, brand, price,
             quantity, n],
        )


def warehouse(data_dir, products) -> duckdb.DuckDBPyConnection:
    (data_dir / "warehouse").mkdir()
    c = duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"))
    prepare_connection(c)
    c.executemany("INSERT INTO raw.products VALUES (?, ?, NULL, ?, ?, ?, 'test', now())",
                  [(p, f"title {p}", cat, brand, price) for p, cat, brand, price in products])
    return c


@pytest.fixture
def con(data_dir):
    c = warehouse(data_dir, PRODUCTS)
    c.execute("INSERT INTO raw.users VALUES ('U1', '2026-09-01', 30, 'F', 'Rome', NULL, NULL, 'test', now())")
    insert_events(c, EVENTS)
    yield c
    c.close()


def features(con, day: str) -> dict[str, dict]:
    cursor = con.execute("SELECT * FROM features.user_features WHERE feature_date = ?", [day])
    names = [d[0] for d in cursor.description]
    return {row[1]: dict(zip(names, row)) for row in cursor.fetchall()}


def test_daily_activity_by_hand(con):
    for day in DAYS:
        build_user_daily_activity(con, day)
    cursor = con.execute("SELECT * FROM features.user_daily_activity WHERE activity_date = '2026-10-05'")
    names = [d[0] for d in cursor.description]
    (row,) = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert {k: row[k] for k in ("user_id", "events", "views", "carts", "purchases", "orders", "returns",
                                "searches", "sessions", "items_bought", "revenue", "refunds",
                                "distinct_products", "distinct_categories", "active_hours",
                                "events_evening", "priced_purchases", "price_ratio_sum",
                                "purchases_below_median")} == {
        "user_id": "U1", "events": 4, "views": 2, "carts": 0, "purchases": 1, "orders": 1, "returns": 1,
        "searches": 0, "sessions": 2, "items_bought": 1, "revenue": 30.0, "refunds": 10.0,
        "distinct_products": 3, "distinct_categories": 2, "active_hours": 2, "events_evening": 4,
        "priced_purchases": 1, "price_ratio_sum": 1.5, "purchases_below_median": 0,
    }
    day1 = dict(con.execute("SELECT user_id, revenue FROM features.user_daily_activity "
                            "WHERE activity_date = '2026-10-01'").fetchall())
    assert day1 == {"U1": 20.0, "U2": 20.0}  # price x quantity; the search has no revenue
    cats = con.execute("SELECT user_id, category, events, purchases FROM features.user_daily_category "
                       "WHERE activity_date = '2026-10-05' ORDER BY ALL").fetchall()
    assert cats == [("U1", "books", 3, 1), ("U1", "toys", 1, 0)]


def test_user_features_by_hand(con):
    for day in DAYS:
        build_user_daily_activity(con, day)
    build_user_features(con, "2026-11-02")
    rows = features(con, "2026-11-02")
    assert set(rows) == {"U1", "U2"}  # U3's only visit (07-15) is beyond the 90-day horizon

    u1 = rows["U1"]
    assert {k: u1[k] for k in (
        "tenure_days", "days_since_last_visit", "days_since_last_purchase",
        "active_days_7d", "active_days_30d", "active_days_90d",
        "events_7d", "events_30d", "events_90d", "sessions_7d", "sessions_30d", "sessions_90d",
        "purchases_7d", "purchases_30d", "purchases_90d", "orders_30d", "orders_90d",
        "revenue_7d", "revenue_30d", "revenue_90d", "refunds_90d", "items_bought_90d",
        "aov_30d", "aov_90d", "view_to_cart_90d", "cart_to_purchase_90d",
        "top_category", "top_category_share", "top_brand", "price_ratio_90d", "share_below_median_90d",
        "preferred_hour_band", "preferred_weekday", "rfm_code")} == {
        "tenure_days": 62, "days_since_last_visit": 0, "days_since_last_purchase": 28,
        "active_days_7d": 1, "active_days_30d": 2, "active_days_90d": 3,
        "events_7d": 1, "events_30d": 5, "events_90d": 9, "sessions_7d": 1, "sessions_30d": 3, "sessions_90d": 4,
        "purchases_7d": 0, "purchases_30d": 1, "purchases_90d": 2, "orders_30d": 1, "orders_90d": 2,
        "revenue_7d": 0.0, "revenue_30d": 30.0, "revenue_90d": 50.0, "refunds_90d": 10.0,
        "items_bought_90d": 3, "aov_30d": 30.0, "aov_90d": 25.0, "view_to_cart_90d": 0.25,
        "cart_to_purchase_90d": 2.0, "top_category": "books", "top_category_share": 0.75, "top_brand": "A",
        "price_ratio_90d": 1.0, "share_below_median_90d": 0.5,
        "preferred_hour_band": "morning",  # 4 morning = 4 evening: the earlier band wins
        "preferred_weekday": "Monday", "rfm_code": "R5F5M5",
    }
    assert u1["top_categories"] == [{"name": "books", "share": 0.75}, {"name": "toys", "share": 0.25}]
    assert u1["top_brands"] == [{"name": "A", "share": 0.5}, {"name": "B", "share": 0.25},
                                {"name": "C", "share": 0.25}]

    u2 = rows["U2"]
    assert (u2["signup_date"], u2["tenure_days"]) == (None, None)
    assert (u2["days_since_last_visit"], u2["days_since_last_purchase"], u2["events_30d"], u2["events_90d"],
            u2["revenue_90d"], u2["rfm_code"], u2["preferred_hour_band"]) == (32, 32, 0, 2, 20.0, "R1F1M1", "night")

    edges = dict(con.execute("SELECT metric, edges FROM features.rfm_edges WHERE feature_date = '2026-11-02'")
                 .fetchall())
    assert edges["days_since_last_purchase"] == pytest.approx([28.8, 29.6, 30.4, 31.2])
    assert edges["revenue_90d"] == pytest.approx([26.0, 32.0, 38.0, 44.0])

    # an inactive user keeps a row with recency growing until the horizon
    build_user_features(con, "2026-10-01")
    assert features(con, "2026-10-01")["U3"]["days_since_last_visit"] == 78


def test_rerun_is_idempotent_and_a_backfill_equals_day_by_day(con, data_dir):
    for day in DAYS:
        build_user_daily_activity(con, day)
    for day in ("2026-10-04", "2026-10-05", "2026-10-06"):
        build_user_features(con, day)
    snapshot = "SELECT * EXCLUDE (computed_at) FROM features.user_features ORDER BY ALL"
    one_by_one = con.execute(snapshot).fetchall()
    build_user_features(con, "2026-10-05")
    assert con.execute(snapshot).fetchall() == one_by_one
    con.close()

    from profiling_assets.definitions import defs

    assets = [defs.get_assets_def(k) for k in ("user_daily_activity", "user_features")]
    result = dg.materialize(
        assets, resources={"warehouse": warehouse_resource()}, instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": "2026-10-04",
              "dagster/asset_partition_range_end": "2026-10-06"},
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    with duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"), read_only=True) as again:
        assert again.execute(snapshot).fetchall() == one_by_one


# Purchases of U5 on the days exactly 6, 7, 29, 30, 89 and 90 days before the feature day, and
# on the day after it (each in its own session, plus one view a day): a different power of two
# for each age, so that every 7/30/90-day figure tells which of those days its window holds.
EDGE_PURCHASES = {-1: 64, 6: 1, 7: 2, 29: 4, 30: 8, 89: 16, 90: 32}


def edge_events(day: date) -> list[tuple]:
    events = []
    for age, purchases in EDGE_PURCHASES.items():
        when = day - timedelta(days=age)
        events.append(("U5", f"{when} 11:00:00", f"{when}-s0", "view", "P1", 5.0, None))
        events += [("U5", f"{when} 12:00:00", f"{when}-s{i}", "purchase", "P1", 5.0, 2)
                   for i in range(purchases)]
    return events


# two feature days, a Monday and a Sunday: an edge that depended on the calendar week would
# hold on one of them only
@pytest.mark.parametrize("day", [date(2026, 12, 28), date(2027, 1, 3)])
def test_window_edges_are_exact(con, day):
    """The 7-day window holds ages 0-6 (1 purchase), the 30-day 0-29 (1 + 2 + 4), the 90-day
    0-89 (1 + 2 + 4 + 8 + 16), none the day after: moving any edge of any figure by a day fails
    here."""
    insert_events(con, edge_events(day), first_line=1000)
    for age in EDGE_PURCHASES:
        build_user_daily_activity(con, str(day - timedelta(days=age)))
    build_user_features(con, str(day))
    f = features(con, str(day))["U5"]
    windowed = ("active_days", "events", "sessions", "purchases", "orders", "revenue")
    assert {f"{k}_{w}": f[f"{k}_{w}"] for w in ("7d", "30d", "90d") for k in windowed} == {
        "active_days_7d": 1, "events_7d": 2, "sessions_7d": 1,
        "purchases_7d": 1, "orders_7d": 1, "revenue_7d": 10.0,
        "active_days_30d": 3, "events_30d": 10, "sessions_30d": 7,
        "purchases_30d": 7, "orders_30d": 7, "revenue_30d": 70.0,
        "active_days_90d": 5, "events_90d": 36, "sessions_90d": 31,
        "purchases_90d": 31, "orders_90d": 31, "revenue_90d": 310.0,
    }
    assert (f["items_bought_90d"], f["view_to_cart_90d"]) == (62, 0.0)
    assert (f["first_seen_date"], f["last_seen_date"], f["last_purchase_date"], f["days_since_last_visit"]) == (
        day - timedelta(days=89), day - timedelta(days=6), day - timedelta(days=6), 6)
    assert f["preferred_weekday"] == (day - timedelta(days=89)).strftime("%A")  # 17 events that day
    assert (f["aov_30d"], f["price_ratio_90d"]) == (10.0, 0.25)  # 5 paid, books median 20
