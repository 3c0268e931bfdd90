"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from profiling_assets import cleaning, features, ingest, text
from profiling_assets.resources import warehouse_resource
from profiling_assets.schedules import (
    daily_assets_job,
    daily_schedule,
    snapshots_job,
    train_text_encoder_job,
)

defs = dg.Definitions(
    assets=[
        ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
        features.user_daily_activity, features.user_features,
        text.text_encoder, text.text_embeddings, text.user_text_profile,
    ],
    jobs=[daily_assets_job, snapshots_job, train_text_encoder_job],
    schedules=[daily_schedule],
    resources={"warehouse": warehouse_resource()},
)
