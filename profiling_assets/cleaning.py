"""Clean layer: one day of raw events deduplicated, validated, bot-filtered and joined to the
catalogue. The rules are in sql/stage_cleaned_events.sql and sql/insert_cleaned_events.sql;
every raw row of the day ends in clean.events or in clean.events_quarantine with a reason.
"""


from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from profiling_assets import sql
from profiling_assets.metadata import counts_table, day_logger, days_label, preview_file
from profiling_assets.partitions import (
    daily_asset,
    day_check,
)
from profiling_assets.resources import prepare_connection, replace_partition


class CleaningConfig(dg.Config):
    """Thresholds of the cleaning rules (editable in the launchpad)."""

    bot_events_per_day: int = Field(
        1000, description="a user with at least this many browsing events (view, search) in one UTC day is a bot")
    bot_events_per_minute: int = Field(
        60, description="...or with at least this many browsing events within one clock minute")
    price_outlier_factor: float = Field(
        10.0, description="a price above factor x or below 1/factor x the catalogue price is replaced by it")
    max_price: float = Field(
        100_000.0, description="prices of products without a catalogue price are clamped to this")
    max_quantity: int = Field(1_000, description="quantities above this are clamped (and flagged)")


def clean_day(con: duckdb.DuckDBPyConnection, day: str, config: CleaningConfig,
              now: datetime | None = None) -> dict[str, Counter]:
    """Replace one day of the clean layer from raw.events, atomically; returns counts per rule."""
    now = now or datetime.now(UTC)
    counts: dict[str, Counter] = {}

    def summarize(c: duckdb.DuckDBPyConnection) -> None:
        for kind, name, n in sql.query(c, "summarize_cleaned_events", day=day):
            counts.setdefault(kind, Counter())[name] += n

    try:
        prepare_connection(con)
        # Only the refused rows are staged; the insert reads the day's rows from raw.events.
        sql.run(con, "stage_cleaned_events", day=day, now=now,
                bot_events_per_day=config.bot_events_per_day,
                bot_events_per_minute=config.bot_events_per_minute)
        replace_partition(con, "cleaned_events",
                          then=["create_event_signals_macro", "insert_event_signals", summarize],
                          day=day, now=now,
                          price_outlier_factor=config.price_outlier_factor,
                          max_price=config.max_price, max_quantity=config.max_quantity)
    finally:
        sql.run(con, "drop_cleaned_events_stage")
    return counts


def _checks(con: duckdb.DuckDBPyConnection, days: list[str]) -> list[dg.AssetCheckResult]:
    dup, null_users, future, raw_rows, clean_rows, quarantined = sql.query(
        con, "check_cleaned_events", first_day=days[0], last_day=days[-1])[0]
    return [
        dg.AssetCheckResult(check_name="unique_event_id", passed=dup == 0,
                            metadata={"duplicate_event_ids": dup}),
        dg.AssetCheckResult(check_name="user_id_not_null", passed=null_users == 0,
                            metadata={"null_user_ids": null_users}),
        dg.AssetCheckResult(check_name="no_future_timestamps", passed=future == 0,
                            metadata={"future_timestamps": future}),
        dg.AssetCheckResult(
            check_name="rows_reconcile", passed=raw_rows == clean_rows + quarantined,
            metadata={"raw_rows": raw_rows, "clean_rows": clean_rows, "quarantined_rows": quarantined},
        ),
    ]


@daily_asset(
    table="clean.events",
    deps=["raw_events", "raw_products"],
    group_name="clean",
    kinds={"duckdb", "sql"},
    check_specs=[
        day_check("unique_event_id", "cleaned_events",
                          description="No event_id appears twice in clean.events for the day."),
        day_check("user_id_not_null", "cleaned_events",
                          description="Every clean event has a user_id."),
        day_check("no_future_timestamps", "cleaned_events",
                          description="No clean event is stamped later than the time it was cleaned."),
        day_check("rows_reconcile", "cleaned_events",
                          description="raw rows of the day = clean rows + quarantined rows."),
    ],
)
def cleaned_events(context: dg.AssetExecutionContext, config: CleaningConfig,
                   warehouse: DuckDBResource):
    """clean.events for one UTC day: duplicates removed (exact copies, then repeated event_ids),
    future-dated, wrong-day, negative-price, bad-quantity/rating and bot events quarantined
    (clean.events_quarantine, with reason), outlier prices replaced or clamped and flagged,
    timestamps in UTC, joined to the product catalogue."""
    days = list(context.partition_keys)
    totals: dict[str, Counter] = {}
    log = day_logger(context, days)
    with warehouse.get_connection() as con:
        for day in days:
            counts = clean_day(con, day, config)
            for kind, c in counts.items():
                totals.setdefault(kind, Counter()).update(c)
            outcome = counts.get("outcome", Counter())
            log(day, f"{outcome.get('clean', 0):,} clean, "
                     f"{sum(outcome.values()) - outcome.get('clean', 0):,} quarantined")
        outcome = totals.get("outcome", Counter())
        quarantined = {k: v for k, v in outcome.items() if k != "clean"}
        flags = {f"{kind}:{name}": n for kind in ("price_flag", "quantity_flag")
                 for name, n in totals.get(kind, Counter()).items()}
        yield dg.MaterializeResult(metadata={
            "days": days_label(days),
            "dagster/row_count": outcome.get("clean", 0),
            "raw_rows": sum(outcome.values()),
            "quarantined": sum(quarantined.values()),
            "quarantined_by_reason": counts_table(quarantined) if quarantined else "none",
            "flagged": counts_table(flags, key="flag") if flags else "none",
            "events_not_in_catalog": totals.get("not_in_catalog", Counter()).get("events", 0),
            "bot_users": sql.query(con, "count_bot_users", first_day=days[0],
                                   last_day=days[-1])[0][0],
            "preview": preview_file(con, "preview_cleaned_events", day=days[-1]),
        })
        yield from _checks(con, days)
