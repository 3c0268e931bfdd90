"""The daily job and its schedule: yesterday's partition of every daily asset, end to end."""

import dagster as dg

from profiling_assets.partitions import daily_partitions

daily_assets_job = dg.define_asset_job(
    name="daily_assets",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("raw_users", "raw_products"),
    partitions_def=daily_partitions,
    description="Materialize one day of every daily asset (ingest to the latest layer).",
)

snapshots_job = dg.define_asset_job(
    name="snapshots",
    selection=dg.AssetSelection.assets("raw_users", "raw_products"),
    description="Reload the user and product snapshots.",
)

# Partition N is built shortly after day N ends (UTC), once the day's files have landed.
daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_assets_job, hour_of_day=1, minute_of_hour=30, name="daily_assets_schedule",
)
