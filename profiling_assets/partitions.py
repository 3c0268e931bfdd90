"""The daily partitioning shared by every apply asset: one UTC day of events per partition."""

from typing import Any

import dagster as dg

from profiling_assets import settings
from profiling_assets.columns import table_metadata
from profiling_assets.metadata import OWNERS

daily_partitions = dg.DailyPartitionsDefinition(start_date=settings.start_date(), timezone="UTC")

# A backfill of a range is one run per up to a month of days: few runs competing for the
# single warehouse writer, while a failure still costs at most a month of work. On a lake,
# where runs write at once, fewer days per run (PROFILING_DAYS_PER_RUN) give more runs to
# spread over processes or pods.
daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=settings.days_per_run())


def daily_asset(*, table: str, **kwargs: Any) -> Any:
    """The decorator of a daily (apply) asset that writes ``table``: partitioned by UTC day,
    backfilled up to a month per run, writing through the one-writer ``duckdb`` pool, owned by
    the data platform team, with the table's column schema in its metadata."""
    metadata = {**table_metadata(table), **kwargs.pop("metadata", {})}
    return dg.asset(partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
                    pool="duckdb", owners=OWNERS, metadata=metadata, **kwargs)


def day_check(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    """A check of a daily asset, partitioned like it: a run of one day (the schedule's) records
    the result against that day, so the UI shows which day a result belongs to. A run over a
    range records it once, without a day (Dagster 1.13 attaches a partition only to a
    single-partition run's check results)."""
    return dg.AssetCheckSpec(name, asset=asset, description=description,
                             partitions_def=daily_partitions)
