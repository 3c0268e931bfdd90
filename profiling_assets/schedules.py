"""Jobs and the daily schedule: yesterday's partition of every daily (apply) asset, end to
end; model (train) assets have their own jobs so a retrain never blocks the daily chain."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from profiling_assets import settings
from profiling_assets.ingest import COMPLETE_MARKER, landing_files
from profiling_assets.partitions import daily_partitions

SNAPSHOT_ASSETS = ("raw_users", "raw_products")
# Model (train) assets carry this tag; the daily jobs leave them out.
MODELS = dg.AssetSelection.tag("role", "model")

daily_assets_job = dg.define_asset_job(
    name="daily_assets",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*SNAPSHOT_ASSETS) - MODELS,
    description="Materialize one day of every daily asset (ingest to the latest layer), with "
                "the production version of each model.",
)

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest",
    selection=dg.AssetSelection.groups("ingest", "clean", "features")
    - dg.AssetSelection.assets(*SNAPSHOT_ASSETS),
    description="One day from landing files to behavioural features (no model needed).",
)

daily_model_outputs_job = dg.define_asset_job(
    name="daily_model_outputs",
    selection=dg.AssetSelection.groups("text", "factors") - MODELS,
    description="One day of model outputs (text embeddings, interest vectors, user factors, "
                "recommendations) with the production version of each model.",
)

daily_profiles_job = dg.define_asset_job(
    name="daily_profiles",
    selection=dg.AssetSelection.groups("segments", "scores", "profiles") - MODELS,
    description="One day of segment assignments, predictive scores and profile rows, then the "
                "analysts' copy.",
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

train_propensity_job = dg.define_asset_job(
    name="train_propensity",
    selection=dg.AssetSelection.assets("propensity_model"),
    description="Fit new purchase, churn and spend models; each target is promoted when its "
                "check passes.",
)

TRAIN_JOBS = (train_text_encoder_job, train_svd_job, train_segments_job, train_propensity_job)

# How far back the schedule looks for days that were skipped (not landed yet, closed).
CATCH_UP_DAYS = 31


def scheduled_days(yesterday: date, materialized: set[str], data_dir: Path,
                   first_partition: str) -> tuple[list[str], str | None]:
    """The days one tick of the daily schedule runs, or a reason to skip.

    Yesterday runs once its landing folder holds event files or the completion marker; it
    brings along the earlier days of the last month that were never built (a day skipped
    while its files were late, or a closed day without a folder: an empty day now that a
    later day has landed)."""
    folder = settings.events_landing_dir(yesterday.isoformat(), data_dir)
    files, _ = landing_files(folder)
    if not files and not (folder / COMPLETE_MARKER).is_file():
        return [], (f"{yesterday}: no landing files yet in {folder} (event files or an empty "
                    f"{COMPLETE_MARKER} marker for a day without events). The next tick runs it "
                    "with the days missed; a backfill from the UI runs it earlier.")
    first = max(yesterday - timedelta(days=CATCH_UP_DAYS - 1), date.fromisoformat(first_partition))
    days = [(first + timedelta(days=i)).isoformat() for i in range((yesterday - first).days + 1)]
    return [d for d in days if d not in materialized or d == yesterday.isoformat()], None


# Why not dg.build_schedule_from_partitioned_job: it requests the newest partition on every
# tick, with no way to skip a day whose files have not landed or to bring missed days along.
# This schedule targets the same partitioned job and names each request's partition, which is
# all that helper adds. Dagster 1.13's schedule page says "Partition set: None" for either
# (its schedule snapshot never names a partition set); the runs carry their partition.
@dg.schedule(
    job=daily_assets_job, cron_schedule="30 1 * * *", execution_timezone="UTC",
    name="daily_assets_schedule",
    description="Builds yesterday's partition of every daily asset (daily_assets, partitioned by "
                "day: one run per day, tagged with its partition) once its landing folder holds "
                "files (or a _SUCCESS marker), with the days of the last month that were skipped; "
                "skips with the folder's name while nothing has landed. This page's 'Partition "
                "set: None' is how Dagster 1.13 shows every schedule, a partitioned job's too.",
)
def daily_schedule(context: dg.ScheduleEvaluationContext):
    yesterday = context.scheduled_execution_time.date() - timedelta(days=1)
    materialized = context.instance.get_materialized_partitions(dg.AssetKey("raw_events"))
    days, reason = scheduled_days(yesterday, set(materialized), settings.data_dir(),
                                  daily_partitions.start.date().isoformat())
    if reason:
        context.log.info(f"skipped: {reason}")
        return dg.SkipReason(reason)
    context.log.info(f"{yesterday} has landed: requesting {len(days)} day(s), "
                     f"{days[0]}..{days[-1]}" if len(days) > 1 else
                     f"{yesterday} has landed: requesting it")
    return [dg.RunRequest(run_key=day, partition_key=day) for day in days]
