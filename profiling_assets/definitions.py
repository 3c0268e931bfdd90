"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from profiling_assets import cleaning, factors, features, ingest, profiles, scores, segments, text
from profiling_assets.resources import warehouse_resource
from profiling_assets.retraining import RETRAIN_SENSORS
from profiling_assets.schedules import (
    TRAIN_JOBS,
    daily_assets_job,
    daily_ingest_job,
    daily_model_outputs_job,
    daily_profiles_job,
    daily_schedule,
    snapshots_job,
)

defs = dg.Definitions(
    assets=[
        ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
        features.user_daily_activity, features.user_features,
        text.text_encoder, text.text_embeddings, text.user_text_profile,
        factors.svd_model, factors.user_factors, factors.recommendations,
        segments.segment_model, segments.user_segments,
        scores.propensity_model, scores.user_scores, profiles.user_profiles,
    ],
    jobs=[daily_assets_job, daily_ingest_job, daily_model_outputs_job, daily_profiles_job,
          snapshots_job, *TRAIN_JOBS],
    schedules=[daily_schedule],
    sensors=[*RETRAIN_SENSORS],
    resources={"warehouse": warehouse_resource()},
    # Every writing step queues on the one-writer pool anyway: steps in the run's own process
    # spare each step a fresh process importing TensorFlow and Dagster (seconds per step).
    executor=dg.in_process_executor,
)
