"""The whole Definitions object loads, and the daily chain materializes demo days end to end."""

from datetime import date

import dagster as dg
import duckdb
import pytest
from images import assert_floats, assert_pictures

from profiling_assets import synthetic


def test_definitions_load():
    from profiling_assets.definitions import defs

    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw_events", "raw_users", "raw_products", "cleaned_events", "user_daily_activity",
            "user_features", "text_encoder", "text_embeddings", "user_text_profile", "svd_model",
            "user_factors", "recommendations", "segment_model", "user_segments",
            "propensity_model", "user_scores", "user_profiles"} <= keys
    assert repo.get_job("daily_assets").partitions_def is not None
    assert {"daily_ingest", "daily_model_outputs", "daily_profiles", "train_text_encoder",
            "train_svd", "train_segments", "train_propensity", "snapshots"} <= set(repo.job_names)
    assert [s.name for s in repo.schedule_defs] == ["daily_assets_schedule"]
    assert {s.name for s in repo.sensor_defs} == {
        "text_encoder_retrain_sensor", "svd_model_retrain_sensor", "segment_model_retrain_sensor",
        "propensity_model_retrain_sensor"}
    checks = {c.name for c in repo.asset_graph.asset_check_keys}
    assert {"lines_reconcile", "unique_event_id", "user_id_not_null", "no_future_timestamps", "rows_reconcile",
            "one_row_per_user", "shares_sum_to_one", "no_negative_money", "recency_matches_last_seen",
            "beats_frozen", "not_worse_than_production", "fine_tune_gain", "beats_strongest_baseline", "lift_goal",
            "one_profile_per_user", "every_user_has_segment", "model_versions_present",
            "published_copy_matches", "segments_well_formed", "purchase_14d_beats_baseline",
            "churn_30d_beats_baseline", "spend_90d_beats_baseline"} <= checks


@pytest.fixture
def demo_days(data_dir):
    summary = synthetic.generate(data_dir, users=300, products=60, days=2, start=date(2026, 10, 1), seed=3)
    return summary


def test_daily_chain_materializes_two_demo_days(data_dir, demo_days):
    from profiling_assets.definitions import defs
    from profiling_assets.resources import pipeline_resources

    resources = pipeline_resources()
    assets = [defs.get_assets_def(k) for k in ("raw_users", "raw_products", "raw_events", "cleaned_events")]
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(assets[:2], resources=resources, instance=instance).success
    for day in ("2026-10-01", "2026-10-02"):
        result = dg.materialize(assets, selection=["raw_events", "cleaned_events"], partition_key=day,
                                resources=resources, instance=instance)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
        # a one-day run records each check result against its day (the UI shows it)
        assert {c.partition for c in checks} == {day}
        raw_meta = result.asset_materializations_for_node("raw_events")[0].metadata
        assert raw_meta["lines_read"].value == raw_meta["accepted"].value + raw_meta["rejected"].value
        # the day's lines as a picture, and the rejections as numbers Dagster can chart
        assert_pictures(raw_meta, "lines_plot")
        assert_floats(raw_meta, "rejected_share")
        by_reason = {k: v.value for k, v in raw_meta.items() if k.startswith("rejected_")
                     and k not in ("rejected_share", "rejected_by_reason")}
        assert by_reason and sum(by_reason.values()) == raw_meta["rejected"].value

    planted = {d["date"]: d for d in demo_days["days"]}
    with duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"), read_only=True) as con:
        for day, lines, rejected, clean, quarantined in con.execute(
            "SELECT f.partition_date::VARCHAR, f.lines_read, "
            "(SELECT count(*) FROM raw.events_rejected r WHERE r.partition_date = f.partition_date), "
            "(SELECT count(*) FROM clean.events c WHERE c.event_date = f.partition_date), "
            "(SELECT count(*) FROM clean.events_quarantine q WHERE q.event_date = f.partition_date) "
            "FROM raw.ingest_files f ORDER BY 1"
        ).fetchall():
            truth = planted[day]
            assert lines == truth["lines"]
            assert rejected == truth["malformed"] + truth["missing_user"] + truth["unknown_type"]
            assert clean == truth["clean_events"] + truth["absurd_price"]
            assert quarantined == (truth["duplicate"] + truth["negative_price"] + truth["future_ts"]
                                   + truth["wrong_day"] + truth["bot_events"])
        # PII stays in the raw layer
        clean_cols = {r[0] for r in con.execute("DESCRIBE clean.events").fetchall()}
        assert not {"email", "phone"} & clean_cols

    # a backfill of the same range in one run (the backfill policy's path) gives the same tables
    def contents() -> list:
        with duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"), read_only=True) as con:
            return [con.execute(f"SELECT * EXCLUDE ({stamp}) FROM {table} ORDER BY ALL").fetchall()
                    for table, stamp in (("raw.events", "loaded_at"), ("raw.events_rejected", "loaded_at"),
                                         ("clean.events", "cleaned_at"),
                                         ("clean.events_quarantine", "cleaned_at"))]

    per_day = contents()
    ranged = dg.materialize(
        assets, selection=["raw_events", "cleaned_events"], resources=resources, instance=instance,
        tags={"dagster/asset_partition_range_start": "2026-10-01",
              "dagster/asset_partition_range_end": "2026-10-02"},
    )
    assert ranged.success
    assert contents() == per_day
