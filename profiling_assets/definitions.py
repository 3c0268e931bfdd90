"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from profiling_assets import cleaning, factors, features, ingest, profiles, scores, segments, text
from profiling_assets.metadata import with_code_references
from profiling_assets.resources import pipeline_resources
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

# The SQL files (sql/<stem>.sql) each asset runs, beside the Python function that runs them:
# the UI links both from the asset's page. The create_* file makes the asset's tables; shared
# helpers' files (the registry's reads, data signals) are listed where they matter to a reader.
_REGISTRY_WRITES = ("create_ml_tables", "insert_model_version", "update_model_status",
                    "retire_production_model")
SQL_BY_ASSET: dict[str, tuple[str, ...]] = {
    "raw_users": ("create_raw_tables", "load_raw_users", "delete_raw_snapshot",
                  "summarize_raw_snapshot", "count_suppressed_users", "preview_raw_users"),
    "raw_products": ("create_raw_tables", "load_raw_products", "delete_raw_snapshot",
                     "summarize_raw_snapshot", "preview_raw_products"),
    "raw_events": ("create_raw_tables", "create_day_typed", "create_event_contract",
                   "stage_jsonl_lines", "stage_csv_file", "select_csv_runaway_quote",
                   "stage_csv_unrecoverable_lines", "stage_parquet_file", "count_suppressed_users",
                   "type_staged_events", "summarize_typed_events", "append_day_typed",
                   "drop_day_typed_file", "drop_day_typed", "delete_raw_events_partition", "insert_raw_events",
                   "insert_ingest_file", "reconcile_raw_events", "preview_raw_events"),
    "cleaned_events": ("create_clean_tables", "delete_cleaned_events_partition",
                       "stage_cleaned_events", "drop_cleaned_events_stage", "count_bot_users", "insert_cleaned_events", "summarize_cleaned_events",
                       "create_event_signals_macro", "insert_event_signals",
                       "check_cleaned_events", "preview_cleaned_events"),
    "user_daily_activity": ("create_features_tables", "delete_user_daily_activity_partition",
                            "insert_user_daily_activity", "summarize_user_daily_activity",
                            "preview_user_daily_activity"),
    "user_features": ("create_features_tables", "delete_user_features_partition",
                      "insert_user_features", "summarize_rfm_codes", "select_rfm_edges", "summarize_user_features", "check_user_features",
                      "preview_user_features"),
    "text_encoder": ("select_clean_event_days", "select_text_training_examples",
                     "select_text_pair_examples", "drop_text_pair_tables", "summarize_data_signals",
                     *_REGISTRY_WRITES),
    "text_embeddings": ("create_text_tables", "select_day_texts", "select_day_product_texts",
                        "select_cached_text_hashes",
                        "insert_text_embeddings", "delete_text_occurrences_partition",
                        "insert_text_occurrences"),
    "user_text_profile": ("create_text_tables", "count_text_window", "select_text_window",
                          "select_text_vectors",
                          "select_category_prototype_texts", "select_product_cluster_texts",
                          "delete_user_text_profile_partition", "insert_user_text_profile",
                          "preview_user_text_profile"),
    "svd_model": ("create_factor_tables", "select_clean_event_days", "select_window_stats",
                  "select_factor_interactions", "select_horizon_purchases",
                  "select_purchase_history", "select_rerank_purchases", "select_rerank_item_stats",
                  "select_window_daily_interactions", "summarize_data_signals",
                  "delete_item_factors_version", "insert_item_factors", *_REGISTRY_WRITES),
    "user_factors": ("create_factor_tables", "count_window_events", "select_factor_interactions",
                     "select_factor_active_users", "delete_user_factors_partition",
                     "insert_user_factors", "preview_user_factors"),
    "recommendations": ("create_factor_tables", "select_recommend_users",
                        "select_factor_interactions", "select_purchase_history",
                        "select_rerank_purchases", "select_rerank_item_stats",
                        "delete_recommendations_partition", "insert_recommendations",
                        "preview_recommendations"),
    "segment_model": ("create_segment_tables", "select_segment_feature_date",
                      "select_segment_text_version", "select_segment_features",
                      "select_segment_user_factors", "select_segment_text_profile",
                      "summarize_data_signals", "delete_segments_version", "insert_segments",
                      *_REGISTRY_WRITES),
    "user_segments": ("create_segment_tables", "select_segment_features",
                      "select_segment_user_factors", "select_segment_text_profile",
                      "delete_user_segments_partition", "insert_user_segments",
                      "summarize_user_segments", "preview_user_segments"),
    "propensity_model": ("select_feature_days", "select_propensity_examples",
                         "summarize_data_signals", *_REGISTRY_WRITES),
    "user_scores": ("create_score_tables", "select_propensity_examples",
                    "delete_user_scores_partition", "insert_user_scores", "summarize_user_scores",
                    "preview_user_scores"),
    "user_profiles": ("create_profile_tables", "delete_user_profiles_history_partition",
                      "insert_user_profiles_history", "refresh_user_profiles",
                      "check_user_profiles", "select_published_copy_current",
                      "select_published_copy_version", "update_published_history",
                      "publish_profiles_history", "publish_profiles", "select_profiles_newest_state",
                      "summarize_profile_segments", "summarize_profile_columns",
                      "summarize_data_signals", "select_profile_segment_mix",
                      "preview_user_profiles"),
}

defs = dg.Definitions(
    assets=with_code_references([
        ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
        features.user_daily_activity, features.user_features,
        text.text_encoder, text.text_embeddings, text.user_text_profile,
        factors.svd_model, factors.user_factors, factors.recommendations,
        segments.segment_model, segments.user_segments,
        scores.propensity_model, scores.user_scores, profiles.user_profiles,
    ], SQL_BY_ASSET),
    jobs=[daily_assets_job, daily_ingest_job, daily_model_outputs_job, daily_profiles_job,
          snapshots_job, *TRAIN_JOBS],
    schedules=[daily_schedule],
    sensors=[*RETRAIN_SENSORS],
    resources=pipeline_resources(),
    # Every writing step queues on the one-writer pool anyway: steps in the run's own process
    # spare each step a fresh process importing TensorFlow and Dagster (seconds per step).
    executor=dg.in_process_executor,
)
