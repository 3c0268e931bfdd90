"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from profiling_assets import cleaning, features, ingest
from profiling_assets.resources import warehouse_resource
from profiling_assets.schedules import daily_assets_job, daily_schedule, snapshots_job

defs = dg.Definitions(
    assets=[
        ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
        features.user_daily_activity, features.user_features,
    ],
    jobs=[daily_assets_job, snapshots_job],
    schedules=[daily_schedule],
    resources={"warehouse": warehouse_resource()},
)
