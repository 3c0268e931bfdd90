"""The final profile: one documented row per user per day, the latest row per user, and a
published copy for analysts.

The published copy is a separate DuckDB file in a storage version that the 1.x clients read
(analysts' CLIs, notebooks and BI tools lag the library the pipeline uses). It is written to
a temporary file and renamed over the previous copy: a reader that opened the old file keeps
reading it, the next open sees the new one, and nobody ever sees a half-written table or
waits on the pipeline's lock.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from profiling_assets import settings, sql
from profiling_assets.metadata import preview_file
from profiling_assets.partitions import daily_backfill_policy, daily_partitions
from profiling_assets.resources import transaction

# The newest storage format the DuckDB 1.x readers (CLI 1.5 and older 1.3+ clients) accept.
PUBLISHED_STORAGE_VERSION = "v1.3.0"


def build_user_profiles(con: duckdb.DuckDBPyConnection, day: str) -> None:
    """Replace the day's history rows and refresh the latest-row table, in one transaction."""
    with transaction(con):
        sql.run(con, "delete_user_profiles_partition", day=day)
        sql.run(con, "insert_user_profiles_history", day=day,
                now=datetime.now(UTC).replace(tzinfo=None))
        sql.run(con, "refresh_user_profiles", day=day)


def publish(con: duckdb.DuckDBPyConnection, day: str, target: Path | None = None) -> Path:
    """Write the analysts' copy next to ``target`` and swap it in with one rename."""
    target = target or settings.published_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    quoted = str(tmp).replace("'", "''")  # ATTACH takes no parameters: quote the path
    con.execute(f"ATTACH '{quoted}' AS pub (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
    try:
        sql.run(con, "publish_profiles", day=day, now=datetime.now(UTC).replace(tzinfo=None))
    finally:
        con.execute("DETACH pub")  # checkpoints: the file is complete before the rename
    os.replace(tmp, target)
    return target


def published_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as pub:
        return dict(zip(("user_profiles", "history"),
                        pub.execute("SELECT user_profiles_rows, history_rows FROM published").fetchone(),
                        strict=True))


@dg.asset(
    deps=["user_features", "user_segments", "user_text_profile", "recommendations", "raw_users"],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    group_name="profiles",
    kinds={"duckdb", "sql"},
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec("one_profile_per_user", asset="user_profiles",
                          description="profiles.user_profiles has one row per user, and the day's "
                          "history one row per user of the day's features."),
        dg.AssetCheckSpec("every_user_has_segment", asset="user_profiles",
                          description="Every profiled user of the day has a segment."),
        dg.AssetCheckSpec("model_versions_present", asset="user_profiles",
                          description="Every model-derived value carries the version of the model "
                          "that produced it."),
        dg.AssetCheckSpec("published_copy_matches", asset="user_profiles",
                          description="The published copy has as many rows as the warehouse's "
                          "profiles.user_profiles."),
    ],
)
def user_profiles(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """profiles.user_profiles_history: one row per user per day, assembled from registration
    attributes (no PII), behavioural features, RFM, lifetime value, segment, text interests,
    recommendations and the model versions behind them; profiles.user_profiles: each user's
    latest row. After each run the analysts' copy is published (see README, For analysts)."""
    days = list(context.partition_keys)
    with warehouse.get_connection() as con:
        for day in days:
            build_user_profiles(con, day)
        day = days[-1]
        rows, duplicates, feature_users, no_segment, no_version, latest = sql.query(
            con, "check_user_profiles", day=day)[0]
        path = publish(con, day)
        preview = preview_file(con, "preview_user_profiles", day=day)
        segments = sql.query(con, "summarize_profile_segments", day=day)
    published = published_counts(path)
    context.log.info(f"{day}: {rows:,} profiles; published {published['user_profiles']:,} "
                     f"latest rows to {path}")
    yield dg.MaterializeResult(metadata={
        "profile_date": day,
        "dagster/row_count": rows,
        "latest_rows": latest,
        "published_copy": dg.MetadataValue.path(str(path)),
        "published_storage_version": PUBLISHED_STORAGE_VERSION,
        "segments": dg.MetadataValue.md("\n".join(
            ["| segment | users | mean lifetime value |", "|---|---|---|"]
            + [f"| {name} | {users:,} | {ltv:,.2f} |" for name, users, ltv in segments])),
        "preview": preview,
    })
    yield dg.AssetCheckResult(check_name="one_profile_per_user",
                              passed=duplicates == 0 and rows == feature_users,
                              metadata={"duplicate_latest_rows": duplicates, "history_rows": rows,
                                        "feature_users": feature_users})
    yield dg.AssetCheckResult(check_name="every_user_has_segment", passed=no_segment == 0,
                              metadata={"users_without_segment": no_segment})
    yield dg.AssetCheckResult(check_name="model_versions_present", passed=no_version == 0,
                              metadata={"rows_missing_a_version": no_version})
    yield dg.AssetCheckResult(check_name="published_copy_matches",
                              passed=published["user_profiles"] == latest,
                              metadata={"published_rows": published["user_profiles"],
                                        "warehouse_rows": latest})
