"""Behavioural features in DuckDB SQL: one day of activity per user, then rolling 7/30/90-day
features (recency, frequency, money, funnel, affinities, price sensitivity, habits, RFM)
computed from a 90-day window of the daily table, so a day's cost does not grow with history.
"""

from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from profiling_assets import sql
from profiling_assets.metadata import day_logger, days_label, preview_file, table_value
from profiling_assets.partitions import (
    daily_asset,
    day_check,
)
from profiling_assets.resources import replace_partition

WINDOW_DAYS = 90  # the longest window, and the retention horizon of user_features


# Days of user_daily_activity built by one statement: few statements for a long range, and a
# bounded temporary table for large days.
ACTIVITY_CHUNK_DAYS = 31


def build_user_daily_activity(con: duckdb.DuckDBPyConnection, first_day: str,
                              last_day: str | None = None) -> None:
    """Replace the days first_day..last_day (default: first_day alone) in one transaction."""
    replace_partition(con, "user_daily_activity", first_day=first_day, last_day=last_day or first_day,
                      now=datetime.now(UTC))


def build_user_features(con: duckdb.DuckDBPyConnection, day: str) -> None:
    """Replace one day of user_features and rfm_edges (re-runs replace exactly that day)."""
    replace_partition(con, "user_features", day=day, now=datetime.now(UTC))


@daily_asset(
    table="features.user_daily_activity",
    deps=["cleaned_events", "raw_products"],
    group_name="features",
    kinds={"duckdb", "sql"},
)
def user_daily_activity(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    """features.user_daily_activity: one row per active user per UTC day (views, carts,
    purchases, orders, revenue, items, sessions, searches, reviews, distinct products and
    categories, active hours, first/last event, hour-band counts, price-vs-category figures),
    with per-category and per-brand breakdowns in features.user_daily_category / _brand."""
    days = list(context.partition_keys)
    with warehouse.get_connection() as con:
        for i in range(0, len(days), ACTIVITY_CHUNK_DAYS):
            chunk = days[i:i + ACTIVITY_CHUNK_DAYS]
            build_user_daily_activity(con, chunk[0], chunk[-1])
        rows = sql.query(con, "summarize_user_daily_activity", first_day=days[0], last_day=days[-1])
        log = day_logger(context, days)
        for day, users, events, purchases, _ in rows:
            log(str(day), f"{users:,} active users, {events:,} events, {purchases:,} purchases")
        return dg.MaterializeResult(metadata={
            "days": days_label(days),
            "dagster/row_count": sum(r[1] for r in rows),
            "per_day": table_value(["day", "active users", "events", "purchases", "revenue"], rows,
                                   types={"revenue": "float"}),
            "preview": preview_file(con, "preview_user_daily_activity", day=days[-1]),
        })


def _feature_checks(con: duckdb.DuckDBPyConnection, days: list[str]) -> list[dg.AssetCheckResult]:
    duplicates, bad_shares, negative, bad_recency, rows = sql.query(
        con, "check_user_features", first_day=days[0], last_day=days[-1])[0]
    return [
        dg.AssetCheckResult(check_name="one_row_per_user", passed=duplicates == 0,
                            metadata={"duplicate_rows": duplicates, "rows": rows}),
        dg.AssetCheckResult(check_name="shares_sum_to_one", passed=bad_shares == 0,
                            metadata={"rows_off_by_more_than_1e-9": bad_shares}),
        dg.AssetCheckResult(check_name="no_negative_money", passed=negative == 0,
                            metadata={"rows_with_negative_revenue_or_refunds": negative}),
        dg.AssetCheckResult(check_name="recency_matches_last_seen", passed=bad_recency == 0,
                            metadata={"inconsistent_rows": bad_recency}),
    ]


@daily_asset(
    table="features.user_features",
    deps=[dg.AssetDep("user_daily_activity", partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-(WINDOW_DAYS - 1), end_offset=0, allow_nonexistent_upstream_partitions=True))],
    group_name="features",
    kinds={"duckdb", "sql"},
    check_specs=[
        day_check("one_row_per_user", "user_features",
                          description="Exactly one row per user per day."),
        day_check("shares_sum_to_one", "user_features",
                          description="Category and brand shares of every user sum to 1."),
        day_check("no_negative_money", "user_features",
                          description="Revenue and refunds are never negative."),
        day_check("recency_matches_last_seen", "user_features",
                          description="days_since_last_visit = feature_date - last_seen_date, within "
                                      "the 90-day horizon; last purchase no later than last visit."),
    ],
)
def user_features(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """features.user_features: one row per user seen in the 90 days ending the partition's day.
    Recency, frequency and money over 7/30/90 days, AOV, funnel conversion, top categories and
    brands with shares, price sensitivity, preferred hour band and weekday, tenure, and RFM
    quintile scores with a readable code (edges in features.rfm_edges). Reads only the window
    of user_daily_activity, never the event history."""
    days = list(context.partition_keys)
    with warehouse.get_connection() as con:
        for day in days:
            build_user_features(con, day)
        last = days[-1]
        users, purchasers, missing_signup = sql.query(con, "summarize_user_features", day=last)[0]
        codes = Counter(dict(sql.query(con, "summarize_rfm_codes", day=last)))
        edges = sql.query(con, "select_rfm_edges", day=last)
        if missing_signup:
            context.log.warning(f"{last}: {missing_signup:,} users without a registration row: no tenure")
        yield dg.MaterializeResult(metadata={
            "days": days_label(days),
            "dagster/row_count": users,
            "purchasers_90d": purchasers,
            "users_without_signup_date": missing_signup,
            # the 20th/40th/60th/80th percentiles over the day's purchasers (none without any)
            "rfm_edges": table_value(
                ["metric", "p20", "p40", "p60", "p80"],
                [(m, *(list(e) + [None] * 4)[:4]) for m, e in edges],
                types=dict.fromkeys(["p20", "p40", "p60", "p80"], "float")),
            "top_rfm_codes": table_value(["code", "users"], codes.most_common(8),
                                         types={"code": "string", "users": "int"}),
            "preview": preview_file(con, "preview_user_features", day=last),
        })
        yield from _feature_checks(con, days)
