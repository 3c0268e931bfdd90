"""profiling_assets: e-commerce event logs in, a queryable profile per user out."""

import warnings

# Dagster marks two parameters the assets rely on (backfill_policy, and
# allow_nonexistent_upstream_partitions of the features' partition mapping) as beta and warns
# once per asset on every load of the code location: noise in the UI's console and the CLI.
warnings.filterwarnings(
    "ignore", message=r"Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)`.* is currently in beta")
# Check specs of the daily assets carry the daily partitions (partitions.day_check), which
# Dagster 1.13 calls a preview: the project pins that version, so the notice is only noise.
warnings.filterwarnings(
    "ignore", message=r"Specifying a partitions_def on an AssetCheckSpec is currently in preview")
