"""Jobs and the daily schedule: yesterday's partition of every daily (apply) asset, end to
end; model (train) assets have their own jobs so a retrain never blocks the daily chain."""

import dagster as dg

from profiling_assets.partitions import daily_partitions

SNAPSHOT_ASSETS = ("raw_users", "raw_products")
# Model (train) assets carry this tag; the daily jobs leave them out.
MODELS = dg.AssetSelection.tag("role", "model")

daily_assets_job = dg.define_asset_job(
    name="daily_assets",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*SNAPSHOT_ASSETS) - MODELS,
    partitions_def=daily_partitions,
    description="Materialize one day of every daily asset (ingest to the latest layer), with "
                "the production version of each model.",
)

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest",
    selection=dg.AssetSelection.groups("ingest", "clean", "features")
    - dg.AssetSelection.assets(*SNAPSHOT_ASSETS),
    partitions_def=daily_partitions,
    description="One day from landing files to behavioural features (no model needed).",
)

daily_model_outputs_job = dg.define_asset_job(
    name="daily_model_outputs",
    selection=dg.AssetSelection.groups("text", "factors") - MODELS,
    partitions_def=daily_partitions,
    description="One day of model outputs (text embeddings, interest vectors, user factors, "
                "recommendations) with the production version of each model.",
)

daily_profiles_job = dg.define_asset_job(
    name="daily_profiles",
    selection=dg.AssetSelection.groups("segments", "profiles") - MODELS,
    partitions_def=daily_partitions,
    description="One day of segment assignments and profile rows, then the analysts' copy.",
)

snapshots_job = dg.define_asset_job(
    name="snapshots",
    selection=dg.AssetSelection.assets(*SNAPSHOT_ASSETS),
    description="Reload the user and product snapshots.",
)

train_text_encoder_job = dg.define_asset_job(
    name="train_text_encoder",
    selection=dg.AssetSelection.assets("text_encoder"),
    description="Fine-tune a new text encoder version; promoted when its checks pass.",
)

train_svd_job = dg.define_asset_job(
    name="train_svd",
    selection=dg.AssetSelection.assets("svd_model"),
    description="Fit a new SVD model version; promoted when its checks pass.",
)

train_segments_job = dg.define_asset_job(
    name="train_segments",
    selection=dg.AssetSelection.assets("segment_model"),
    description="Fit a new segment model version; promoted when segments_well_formed passes.",
)

TRAIN_JOBS = (train_text_encoder_job, train_svd_job, train_segments_job)

# Partition N is built shortly after day N ends (UTC), once the day's files have landed.
daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_assets_job, hour_of_day=1, minute_of_hour=30, name="daily_assets_schedule",
)
