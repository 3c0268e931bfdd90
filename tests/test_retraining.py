"""Retraining sensors: the drift scores on known distributions, then each sensor against a real
small warehouse and Dagster instance: fresh -> skip, new partitions / drift / quality / first
fit -> exactly one request, never twice for the same reason and window, and a busy or missing
warehouse -> skip."""

import json
import logging
import subprocess
import sys

import dagster as dg
import duckdb
import numpy as np
import pytest

from profiling_assets import registry
from profiling_assets import retraining as R
from profiling_assets.schedules import TRAIN_JOBS

DAYS = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
GOOD = {"text_encoder": {"macro_f1": 0.99},
        "svd_model": {"recall_at_10": 0.2, "lift_over_strongest_baseline": 2.0},
        "segment_model": {"silhouette": 0.3}}


# --------------------------------------------------------------------------- pure functions

def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 20_000)
    assert R.psi(ref, ref) == pytest.approx(0.0, abs=1e-12)
    same = R.psi(ref, rng.normal(0, 1, 20_000))
    small = R.psi(ref, rng.normal(0.2, 1, 20_000))
    large = R.psi(ref, rng.normal(1.0, 1, 20_000))
    assert same < 0.01 < small < R.PSI_THRESHOLD < large
    # hand-computed: two bins (ties merge the deciles), shares 0.5/0.5 -> 0.9/0.1
    ref2, cur2 = [0] * 50 + [1] * 50, [0] * 90 + [1] * 10
    expected = (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    assert R.psi(ref2, cur2) == pytest.approx(expected)
    # missing values are a bin of their own; empty bins get epsilon, not log(0)
    assert R.psi([1.0, 2.0, np.nan, np.nan], [1.0, 2.0, 3.0, 4.0]) > R.PSI_THRESHOLD
    assert np.isfinite(R.psi(np.arange(100.0), np.full(50, 1000.0)))


def test_categorical_psi_and_centroid_shift():
    assert R.categorical_psi(list("aabbc"), list("bcaab")) == pytest.approx(0.0)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert R.categorical_psi(list("ab"), list("aaaab")) == pytest.approx(expected)
    assert R.categorical_psi(["a"] * 10, ["z"] * 10) > 1           # an unseen category
    assert R.centroid_shift([1, 0, 0], [2, 0, 0]) == pytest.approx(0.0)
    assert R.centroid_shift([1, 0], [0, 3]) == pytest.approx(1.0)
    assert R.centroid_shift([1, 1], [1, 0]) == pytest.approx(1 - 1 / np.sqrt(2))
    assert np.isnan(R.centroid_shift([0, 0], [1, 0]))


# --------------------------------------------------------------------------- the sensors

@pytest.fixture
def demo(build_demo, data_dir, monkeypatch):
    """Four days of events up to user_features, in a warehouse and an instance."""
    from profiling_assets import factors, features, scores, segments, text

    monkeypatch.setenv("PROFILING_RETRAIN_MIN_NEW_PARTITIONS_TEXT_ENCODER", "3")
    assets, resources, instance = build_demo(
        users=150, products=40, days=len(DAYS),
        extra_assets=[features.user_daily_activity, features.user_features],
        selection=["raw_events", "cleaned_events", "user_daily_activity", "user_features"])
    defs = dg.Definitions(
        assets=[*assets, text.text_encoder, factors.svd_model, segments.segment_model,
                scores.propensity_model],
        jobs=list(TRAIN_JOBS), sensors=list(R.RETRAIN_SENSORS), resources=resources)
    return defs, instance, data_dir / "warehouse" / "test.duckdb"


def register(warehouse, model, window, metrics=None, version=None):
    version = version or registry.new_version()
    with duckdb.connect(str(warehouse)) as con:
        registry.register(con, model, version, artifact_path=warehouse.parent / version,
                          metrics=metrics or GOOD[model], config={}, window=window)
        registry.promote(con, model, version, "test")
    return version


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def tick(defs, instance, model, cursor=None, logs: list[str] | None = None):
    """One evaluation of the model's sensor; what it logged is added to ``logs``."""
    (sensor,) = [s for s in R.RETRAIN_SENSORS if s.name == f"{model}_retrain_sensor"]
    # the warehouse resource the code location gives the sensor, pointed at the test's file
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                 resources={"warehouse": defs.resources["warehouse"]}) as context:
        handler = Lines()
        context.log.addHandler(handler)  # the logger the evaluation will use
        result = sensor.evaluate_tick(context)
    if logs is not None:
        logs.extend(handler.lines)
    return result


def test_sensors_target_the_train_jobs_and_run_by_default():
    assert {s.name: s.job_name for s in R.RETRAIN_SENSORS} == {
        "text_encoder_retrain_sensor": "train_text_encoder",
        "svd_model_retrain_sensor": "train_svd",
        "segment_model_retrain_sensor": "train_segments",
        "propensity_model_retrain_sensor": "train_propensity"}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in R.RETRAIN_SENSORS)
    assert all(s.minimum_interval_seconds == 60 for s in R.RETRAIN_SENSORS)


def test_first_fit_then_fresh_then_drift_fires_once(demo):
    defs, instance, warehouse = demo
    model = "segment_model"
    # no production version and partitions present: a first fit, once
    logs = []
    first = tick(defs, instance, model, logs=logs)
    (req,) = first.run_requests
    assert req.run_key == f"{model}:no_production_version:none:{DAYS[-1]}"
    assert req.tags["retrain/reason"] == "no_production_version"
    assert not tick(defs, instance, model, first.cursor).run_requests

    # fresh: trained up to the latest partition, no later feature day -> nothing to do
    version = register(warehouse, model, (DAYS[0], DAYS[-1]))
    fresh = tick(defs, instance, model, first.cursor, logs=logs)
    assert not fresh.run_requests
    assert "0 of 7 new partitions" in fresh.skip_message
    # every tick logs what it evaluated: the request with its figures, and a skip with them
    requested = (f"{model}: requesting train_segments (no_production_version): no production "
                 f"version; {len(DAYS)} cleaned_events partitions")
    assert logs == [requested, f"{model}: skipped: {fresh.skip_message.removeprefix(f'{model}: ')}"]
    assert "silhouette 0.300 above floor 0.1" in logs[-1]
    assert "silhouette 0.300 above floor 0.1" in fresh.skip_message
    assert json.loads(fresh.cursor)["latest_partition"] == DAYS[-1]

    # a later feature day like the reference: PSI ~ 0, still nothing
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO features.user_features SELECT * REPLACE "
                    "(DATE '2026-10-05' AS feature_date) FROM features.user_features "
                    "WHERE feature_date = $1", [DAYS[-1]])
    calm = tick(defs, instance, model, fresh.cursor)
    assert not calm.run_requests and "PSI 0.000" in calm.skip_message

    # injected drift: users come back less often and spend far more
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO features.user_features SELECT * REPLACE "
                    "(DATE '2026-10-06' AS feature_date, days_since_last_visit + 30 AS "
                    "days_since_last_visit, orders_90d * 5 AS orders_90d, revenue_90d * 5 AS "
                    "revenue_90d) FROM features.user_features WHERE feature_date = $1", [DAYS[-1]])
    drifted = tick(defs, instance, model, calm.cursor)
    (req,) = drifted.run_requests
    assert req.run_key == f"{model}:drift:{version}:{DAYS[-1]}"
    tags = req.tags
    assert tags["retrain/reason"] == "drift" and tags["retrain/model"] == model
    assert tags["retrain/production_version"] == version
    assert float(tags["retrain/psi"]) > R.PSI_THRESHOLD
    assert tags["retrain/psi_feature"] in R.PSI_NUMERIC
    assert tags["retrain/drift_day"] == "2026-10-06" and tags["retrain/drift_reference"] == DAYS[-1]
    assert all(isinstance(v, str) for v in tags.values())

    # the same reason for the same window: not again with the cursor, and without it the
    # same run key, which Dagster drops
    again = tick(defs, instance, model, drifted.cursor)
    assert not again.run_requests and "already requested" in again.skip_message
    assert [r.run_key for r in tick(defs, instance, model).run_requests] == [req.run_key]


def test_new_partitions_fire_once(demo):
    defs, instance, warehouse = demo
    model = "text_encoder"                       # N = 3 in this test (environment variable)
    version = register(warehouse, model, (DAYS[0], DAYS[1]))
    waiting = tick(defs, instance, model)
    assert not waiting.run_requests
    assert "2 of 3 new partitions" in waiting.skip_message

    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE ml.model_registry SET window_end = $1 WHERE version = $2",
                    ["2026-09-30", version])
    fired = tick(defs, instance, model, waiting.cursor)
    (req,) = fired.run_requests
    assert req.run_key == f"{model}:new_data:{version}:{DAYS[-1]}"
    assert req.tags["retrain/new_partitions"] == "4" and req.tags["retrain/min_new_partitions"] == "3"
    assert "already requested" in tick(defs, instance, model, fired.cursor).skip_message


def test_quality_below_floor_fires_once(demo):
    defs, instance, warehouse = demo
    model = "svd_model"
    version = register(warehouse, model, (DAYS[0], DAYS[-1]),
                       metrics={"recall_at_10": 0.05, "lift_over_strongest_baseline": 0.8})
    fired = tick(defs, instance, model)
    (req,) = fired.run_requests
    assert req.run_key == f"{model}:quality:{version}:{DAYS[-1]}"
    assert req.tags["retrain/lift_over_strongest_baseline"] == "0.8000"
    assert req.tags["retrain/lift_over_strongest_baseline_floor"] == "1.0"
    assert not tick(defs, instance, model, fired.cursor).run_requests


def test_busy_or_missing_warehouse_and_no_partitions_skip(demo, data_dir):
    defs, instance, warehouse = demo
    # another process holds the write lock
    hold = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(warehouse)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        busy = tick(defs, instance, "svd_model")
        assert not busy.run_requests and "busy" in busy.skip_message
    finally:
        holder.kill()
        holder.wait()
    warehouse.rename(warehouse.with_suffix(".moved"))
    logs = []
    assert "missing" in tick(defs, instance, "svd_model", logs=logs).skip_message
    assert logs == [f"svd_model: skipped: warehouse missing ({warehouse}), retrying"]
    warehouse.with_suffix(".moved").rename(warehouse)
    # an instance that has materialized nothing: no first fit yet
    empty = tick(defs, dg.DagsterInstance.ephemeral(), "svd_model")
    assert not empty.run_requests and "no cleaned_events partitions" in empty.skip_message


def test_text_centroid_shift_fires_once(demo):
    from profiling_assets import sql

    defs, instance, warehouse = demo
    model = "text_encoder"
    version = register(warehouse, model, (DAYS[0], DAYS[1]))
    rng = np.random.default_rng(0)

    def add_texts(con, day, direction, n=60):
        vecs = rng.normal(0, 0.05, (n, 384)) + np.eye(384)[direction]
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for i, v in enumerate(vecs):
            h = f"{day}-{i}"
            con.execute("INSERT INTO ml.text_embeddings VALUES ($1, $2, 'query', $2, 3, $3, $4, "
                        "now())", [version, h, v.tolist(), day])
            con.execute("INSERT INTO ml.text_occurrences VALUES ($1, $2, $3, 'query', NULL, "
                        "NULL, 1, 1.0)", [day, f"u{i}", h])

    with duckdb.connect(str(warehouse)) as con:
        sql.run(con, "create_text_tables")
        for day in DAYS[:2]:
            add_texts(con, day, 0)
        add_texts(con, DAYS[2], 0)
    calm = tick(defs, instance, model)
    assert not calm.run_requests and "centroid shift 0.0" in calm.skip_message

    with duckdb.connect(str(warehouse)) as con:
        add_texts(con, DAYS[3], 1)               # the latest day talks about something else
    fired = tick(defs, instance, model, calm.cursor)
    (req,) = fired.run_requests
    assert req.run_key == f"{model}:drift:{version}:{DAYS[-1]}"
    assert float(req.tags["retrain/centroid_shift"]) > R.CENTROID_SHIFT_THRESHOLD
    assert req.tags["retrain/drift_reference"] == f"{DAYS[0]}..{DAYS[1]}"
    assert not tick(defs, instance, model, fired.cursor).run_requests


def test_propensity_sensor_reads_every_target_and_names_the_weak_one(demo):
    defs, instance, warehouse = demo
    model = "propensity_model"
    (req,) = tick(defs, instance, model).run_requests
    assert req.run_key == f"{model}:no_production_version:none:{DAYS[-1]}"
    # one target promoted is a production model; a weak one asks for a refit by name
    register(warehouse, "propensity_purchase_14d", (DAYS[0], DAYS[-1]), {"roc_auc": 0.9})
    register(warehouse, "propensity_churn_30d", (DAYS[0], DAYS[-1]), {"roc_auc": 0.55})
    result = tick(defs, instance, model)
    (req,) = result.run_requests
    assert req.tags["retrain/reason"] == "quality"
    assert req.tags["retrain/churn_30d_roc_auc"] == "0.5500"
    assert req.tags["retrain/churn_30d_roc_auc_floor"] == "0.6"
    assert req.run_key.startswith(f"{model}:quality:")
    assert req.tags["retrain/production_version"] in req.run_key
