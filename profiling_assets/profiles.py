"""The final profile: one documented row per user per day, the latest row per user, and a
published copy for analysts.

The published copy is a separate DuckDB file in a storage version that the 1.x clients read
(analysts' CLIs, notebooks and BI tools lag the library the pipeline uses). It is written to
a temporary file and renamed over the previous copy: a reader that opened the old file keeps
reading it, the next open sees the new one, and nobody ever sees a half-written table or
waits on the pipeline's lock.
"""

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from profiling_assets import pictures, settings, sql
from profiling_assets.features import WINDOW_DAYS
from profiling_assets.metadata import days_label, preview_file, table_value
from profiling_assets.partitions import (
    daily_asset,
    day_check,
)
from profiling_assets.resources import replace_partition
from profiling_assets.signals import data_signals

# The newest storage format the DuckDB 1.x readers (CLI 1.5 and older 1.3+ clients) accept.
PUBLISHED_STORAGE_VERSION = "v1.3.0"
# Days of history the segment-mix picture shows, ending at the run's last day.
SEGMENT_MIX_DAYS = 30


def build_user_profiles(con: duckdb.DuckDBPyConnection, day: str) -> None:
    """Replace the day's history rows and refresh the latest-row table, in one transaction."""
    replace_partition(con, "user_profiles_history", day=day,
                      now=datetime.now(UTC).replace(tzinfo=None), then=["refresh_user_profiles"])


@contextmanager
def publish_lock(target: Path) -> Iterator[None]:
    """One publish of ``target`` at a time, across processes (an advisory lock on
    ``.<name>.lock`` beside it, let go when the file closes, so also when a run is killed). An
    embedded warehouse's write lock already orders its runs; in lake mode runs of different
    days write at once and each publishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def remove_leftover_copies(target: Path) -> list[Path]:
    """Temporary copies of runs that were killed mid-publish (``.<name>.<pid>.tmp`` and its
    WAL): the caller holds the publish lock, so no other publish is in flight."""
    leftovers = sorted(target.parent.glob(f".{target.name}.*.tmp*"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def publish(con: duckdb.DuckDBPyConnection, target: Path | None = None, *,
            rewrite: bool = False) -> Path:
    """Write the analysts' copy of the warehouse's newest state next to ``target`` and swap it
    in with one rename, under the publish lock: copies are published in the order of the
    states they read, so the last one written is never an older state.

    The copy starts as a file copy of the previous one, whose history days that still match
    the warehouse's are kept (a daily run writes one day of history, not 90: 4 s of a 7 s
    publish at 100k users, growing with the days kept). ``rewrite`` (or a previous copy this
    release cannot update) writes it whole instead, as forgetting a user needs: a copied file
    would still hold the forgotten rows' bytes in its free blocks."""
    target = target or settings.published_path()
    with publish_lock(target):
        _publish(con, target, rewrite)
    return target


def _publish(con: duckdb.DuckDBPyConnection, target: Path, rewrite: bool) -> None:
    remove_leftover_copies(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    update = not rewrite and target.exists() and _copy_previous(con, target, tmp)
    if not update:
        _attach_copy(con, tmp)
    try:
        sql.run(con, "update_published_history" if update else "publish_profiles_history")
        sql.run(con, "publish_profiles", now=datetime.now(UTC).replace(tzinfo=None),
                storage_version=PUBLISHED_STORAGE_VERSION)
    finally:
        sql.run(con, "detach_published_copy")  # checkpoints: the file is complete before the rename
    os.replace(tmp, target)


def _attach_copy(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    sql.run(con, "attach_published_copy",
            literals={"path": str(path), "storage_version": PUBLISHED_STORAGE_VERSION})


def _copy_previous(con: duckdb.DuckDBPyConnection, target: Path, tmp: Path) -> bool:
    """Copy the previous publish to ``tmp`` and attach it as ``pub`` when it can be updated in
    place (this storage version, the warehouse's history columns); otherwise leave nothing
    attached and no ``tmp``. A copy that does not open (damaged, or from a newer DuckDB) is
    simply written afresh."""
    shutil.copyfile(target, tmp)
    try:
        _attach_copy(con, tmp)
    except duckdb.Error:
        tmp.unlink(missing_ok=True)
        return False
    if (sql.query(con, "select_published_copy_current")[0][0]
            and sql.query(con, "select_published_copy_version")[0][0] == PUBLISHED_STORAGE_VERSION):
        return True
    sql.run(con, "detach_published_copy")
    tmp.unlink(missing_ok=True)
    return False


def published_state(path: Path) -> tuple:
    """(newest profile day, latest rows, history rows) as the published copy records them."""
    with duckdb.connect(str(path), read_only=True) as pub:
        return tuple(sql.query(pub, "select_published_state")[0])


@daily_asset(
    table="profiles.user_profiles_history",
    # the daily table; profiles.user_profiles (each user's latest row) has the same columns
    deps=["user_features", "user_segments", "user_text_profile", "recommendations", "user_scores",
          "raw_users"],
    group_name="profiles",
    kinds={"duckdb", "sql"},
    check_specs=[
        day_check("one_profile_per_user", "user_profiles",
                          description="profiles.user_profiles has one row per user, and the day's "
                          "history one row per user of the day's features."),
        day_check("every_user_has_segment", "user_profiles",
                          description="Every profiled user of the day has a segment."),
        day_check("model_versions_present", "user_profiles",
                          description="Every model-derived value carries the version of the model "
                          "that produced it."),
        day_check("published_copy_matches", "user_profiles",
                          description="The published copy shows the warehouse's newest state: "
                          "its newest profile day, latest rows and 90 days of history, whatever "
                          "day the run built."),
    ],
)
def user_profiles(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """profiles.user_profiles_history: one row per user per day, assembled from registration
    attributes (no PII), behavioural features, RFM, lifetime value, segment, text interests,
    recommendations, predictive scores with their drivers and the model versions behind them; profiles.user_profiles: each user's
    latest row. After each run the analysts' copy is published (see README, For analysts)."""
    days = list(context.partition_keys)
    with warehouse.get_connection() as con:
        for day in days:
            build_user_profiles(con, day)
        day = days[-1]
        rows, duplicates, feature_users, no_segment, no_version, latest = sql.query(
            con, "check_user_profiles", day=day)[0]
        path = publish(con)
        with publish_lock(path):  # no other run's publish between the two reads (lake mode)
            newest = sql.query(con, "select_profiles_newest_state")[0]
            published = published_state(path)
        preview = preview_file(con, "preview_user_profiles", day=day)
        segments = sql.query(con, "summarize_profile_segments", day=day)
        mix_days, mix = pictures.pivot(sql.query(con, "select_profile_segment_mix", day=day,
                                                 days=SEGMENT_MIX_DAYS))
        inputs = data_signals(con, date.fromisoformat(day) - timedelta(days=WINDOW_DAYS - 1),
                              date.fromisoformat(day))
        filled = sql.run(con, "summarize_profile_columns", day=day)
        filled = dict(zip([d[0] for d in filled.description], filled.fetchone(), strict=True))
    empty = [c for c, n in filled.items() if c != "rows" and n == 0] if filled["rows"] else []
    if inputs.missing:
        context.log.warning(f"The data has no {', '.join(inputs.names())}: "
                            f"{', '.join(empty) or 'no column'} empty for every profile of {day}")
    context.log.info(f"{days_label(days)}: {rows:,} profiles on {day}; published the newest "
                     f"state ({published[0]}, {published[1]:,} latest rows) to {path}")
    yield dg.MaterializeResult(metadata={
        "days": days_label(days),
        "profile_date": day,
        "published_profile_date": str(published[0]),
        "dagster/row_count": rows,
        "latest_rows": latest,
        "published_copy": dg.MetadataValue.path(str(path)),
        "published_storage_version": PUBLISHED_STORAGE_VERSION,
        "segments": table_value(["segment", "users", "mean lifetime value"], segments,
                                types={"segment": "string", "users": "int",
                                       "mean lifetime value": "float"}),
        "empty_columns": ", ".join(empty) or "none",
        "segment_mix_plot": pictures.stacked_bars(
            mix_days, {"profiled users": mix},
            f"user_profiles: segment mix per day, the {SEGMENT_MIX_DAYS} days to {day}", shares=True),
        **pictures.latest_shares(mix, "segment_share"),
        **inputs.metadata(),
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
    yield dg.AssetCheckResult(
        check_name="published_copy_matches", passed=tuple(published) == tuple(newest),
        metadata={"published_profile_date": str(published[0]), "warehouse_newest_day": str(newest[0]),
                  "published_rows": published[1], "warehouse_rows": newest[1],
                  "published_history_rows": published[2], "warehouse_history_rows": newest[2]})
