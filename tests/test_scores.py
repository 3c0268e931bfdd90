"""Predictive traits: point-in-time examples, label maturity, refusals, calibration,
explanations, and the propensity_model -> user_scores chain on a small demo."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from images import assert_pictures

from profiling_assets import features as F
from profiling_assets import propensity as P
from profiling_assets import scores
from profiling_assets.resources import prepare_connection

DAY0 = date(2026, 10, 1)
ACTIVITY_DEFAULTS = {"events": 1, "views": 1, "carts": 0, "purchases": 0, "orders": 0, "returns": 0,
                     "searches": 0, "reviews": 0, "sessions": 1, "items_bought": 0, "revenue": 0.0,
                     "refunds": 0.0, "distinct_products": 1, "distinct_categories": 1,
                     "active_hours": 1, "events_night": 0, "events_morning": 1,
                     "events_afternoon": 0, "events_evening": 0, "priced_purchases": 0,
                     "price_ratio_sum": 0.0, "purchases_below_median": 0}


@pytest.fixture
def con(data_dir):
    con = duckdb.connect(str(data_dir / "s.duckdb"))
    prepare_connection(con)
    yield con
    con.close()


def activity(con, user: str, day: date, **values) -> None:
    row = {**ACTIVITY_DEFAULTS, **values, "activity_date": day, "user_id": user,
           "first_event_at": f"{day} 10:00:00", "last_event_at": f"{day} 11:00:00",
           "computed_at": f"{day} 12:00:00+00"}
    cols = ", ".join(row)
    con.execute(f"INSERT INTO features.user_daily_activity ({cols}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()))


def test_examples_see_only_the_past_and_labels_only_when_mature(con):
    cutoff = DAY0 + timedelta(days=20)
    for d in range(0, 20, 4):
        activity(con, "A", DAY0 + timedelta(days=d))
        activity(con, "B", DAY0 + timedelta(days=d))
    # A's big purchase comes two days after the cutoff: the label, never a feature
    activity(con, "A", cutoff + timedelta(days=2), events=5, purchases=3, orders=1, revenue=900.0,
             items_bought=3)
    for day in (cutoff, cutoff + timedelta(days=2), cutoff + timedelta(days=10)):
        F.build_user_features(con, day.isoformat())
    windows = {"purchase_14d": 14, "churn_30d": 5, "spend_90d": 30}
    last = cutoff + timedelta(days=14)
    ex = scores.read_examples(con, [cutoff], last, windows, "events").set_index("user_id")
    # the features are the cutoff day's row, not a later one
    assert ex.loc["A", "revenue_90d"] == 0 and ex.loc["A", "orders_90d"] == 0
    assert ex.loc["A", "days_since_last_visit"] == ex.loc["B", "days_since_last_visit"] == 4
    assert ex.loc["A", "observed_days"] == 21
    assert bool(ex.loc["A", "purchased"]) and not bool(ex.loc["B", "purchased"])
    assert not bool(ex.loc["A", "churned"]) and bool(ex.loc["B", "churned"])
    # the 30-day spend window runs past the last day: not mature, no label
    assert pd.isna(ex.loc["A", "net_spend"])
    mature = scores.read_examples(con, [cutoff], cutoff + timedelta(days=30), windows, "events")
    assert mature.set_index("user_id").loc["A", "net_spend"] == 900.0
    # order-only data churns on purchases: B visits but never buys
    orders = scores.read_examples(con, [cutoff], last, windows, "purchases").set_index("user_id")
    assert bool(orders.loc["B", "churned"]) and not bool(orders.loc["A", "churned"])


def test_cutoffs_leave_a_full_window_between_training_and_validation():
    p = P.Params(cutoffs=3, cutoff_step_days=7, min_history_days=14)
    first, last = DAY0, DAY0 + timedelta(days=89)
    plan = P.plan_cutoffs(first, last, "churn_30d", p)
    assert plan.validation == last - timedelta(days=30)
    # no training label (30 days after its cutoff) reaches past the validation cutoff
    assert all(c + timedelta(days=30) <= plan.validation for c in plan.training)
    assert min(plan.training) >= first + timedelta(days=13)
    assert plan.final[0] == plan.validation
    with pytest.raises(P.Refused, match=r"too little history for a 90-day window: 90 days .* needs 194"):
        P.plan_cutoffs(first, last, "spend_90d", p)


def population(n: int, seed: int, driver: str = "orders_90d") -> pd.DataFrame:
    """Users whose label depends on one planted feature; the others are noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.poisson(3, n).astype(float) for f in P.FEATURES})
    frame["observed_days"] = 60.0
    frame[driver] = rng.integers(0, 12, n).astype(float)
    frame["user_id"] = [f"U{i}" for i in range(n)]
    logit = 1.2 * (frame[driver] - 5.5)
    frame["purchased"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["net_spend"] = 40.0 * frame[driver] + rng.normal(0, 5, n)
    return frame


@pytest.mark.parametrize("name", ["logistic_regression", "gradient_boosting", "keras_mlp"])
def test_a_planted_driver_is_the_top_driver(name):
    frame = population(3000, seed=1)
    p = P.Params(keras_epochs=15)
    features = [f for f in P.FEATURES]
    model = P.fit_candidate(name, P.BINARY, features, frame, P.labels(frame, "purchase_14d"),
                            P.user_split(frame["user_id"].tolist()), p)
    test = population(400, seed=2)
    drivers = P.top_drivers(model, test, "purchase_14d")
    top = np.array([d[0]["feature"] for d in drivers])
    # users near the label's midpoint (5.5 orders) have little to explain: the others must
    # nearly all name the planted feature first
    clear = (test["orders_90d"] - 5.5).abs().to_numpy() >= 2
    assert np.mean(top[clear] == "orders_90d") > 0.9
    assert np.mean(top == "orders_90d") > 0.7
    # contributions add up to the prediction's distance from the average user
    phi, base = model.contributions(test)
    assert np.allclose(base + phi.sum(axis=1), model.predict(test), atol=1e-6)
    high = test["orders_90d"].idxmax()
    assert "orders in 90 days: 11 (raises purchase propensity by" in drivers[high][0]["text"]


def test_calibrated_probabilities_match_known_rates():
    rng = np.random.default_rng(3)
    n = 20000
    frame = pd.DataFrame({f: 0.0 for f in P.FEATURES}, index=range(n))
    frame["active_days_30d"] = rng.uniform(0, 30, n)
    frame["user_id"] = [f"U{i}" for i in range(n)]
    truth = 1 / (1 + np.exp(-(0.25 * frame["active_days_30d"] - 3.5)))
    frame["purchased"] = rng.random(n) < truth
    model = P.fit_candidate("gradient_boosting", P.BINARY, ["active_days_30d"], frame,
                            P.labels(frame, "purchase_14d"), P.user_split(frame["user_id"].tolist()),
                            P.Params())
    predicted = model.predict(frame)
    assert np.mean(np.abs(predicted - truth)) < 0.03
    table = P.calibration_table(frame["purchased"].to_numpy().astype(int), predicted)
    assert max(abs(pred - obs) for _, _, pred, obs in table) < 0.05


def test_too_few_examples_of_a_class_is_refused_with_the_counts():
    frame = population(500, seed=4)
    frame["purchased"] = False
    frame["cutoff"] = pd.Timestamp(DAY0)
    plan = P.Plan("purchase_14d", 14, DAY0 + timedelta(days=40), [DAY0], [DAY0])
    with pytest.raises(P.Refused, match=r"0 positive and 500 negative, fewer than the floor of 100"):
        P.train_target("purchase_14d", plan, lambda days: frame, P.Params(), "")


TEST_CONFIG = {"purchase_window_days": 3, "churn_window_days": 4, "spend_window_days": 30,
               "cutoffs": 3, "cutoff_step_days": 2, "min_history_days": 3, "min_user_days": 2,
               "min_examples_per_class": 20, "min_roc_auc": 0.5,
               "candidates": ["logistic_regression", "gradient_boosting"],
               # four days of churn labels on a small demo are a coin toss: left out here
               "targets": ["purchase_14d", "spend_90d"]}


def test_propensity_model_trains_promotes_and_scores_every_profiled_user(build_demo, data_dir):
    assets, resources, instance = build_demo(
        users=400, products=60, days=16, seed=11,
        extra_assets=[F.user_daily_activity, F.user_features, scores.propensity_model, scores.user_scores],
        selection=("raw_events", "cleaned_events", "user_daily_activity", "user_features"))
    trained = dg.materialize(assets, selection=["propensity_model"], resources=resources, instance=instance,
                             run_config={"ops": {"propensity_model": {"config": TEST_CONFIG}}},
                             raise_on_error=False)
    assert trained.success
    checks = {c.check_name: c for c in trained.get_asset_check_evaluations()}
    assert checks["purchase_14d_beats_baseline"].passed, checks["purchase_14d_beats_baseline"].description
    # 16 days cannot hold two 30-day windows: refused with the reason, not a crash
    spend = checks["spend_90d_beats_baseline"]
    assert not spend.passed and spend.severity == dg.AssetCheckSeverity.WARN
    assert "too little history for a 30-day window" in spend.description
    assert "not among the configured targets" in checks["churn_30d_beats_baseline"].description
    meta = trained.asset_materializations_for_node("propensity_model")[0].metadata
    assert meta["purchase_14d_roc_auc"].value > 0.5
    assert_pictures(meta, "purchase_14d_roc_curve", "purchase_14d_calibration_plot")

    day = "2026-10-16"
    assert dg.materialize(assets, selection=["user_scores"], partition_key=day, resources=resources,
                          instance=instance).success
    with duckdb.connect(str(data_dir / "warehouse" / "test.duckdb"), read_only=True) as con:
        users = con.execute("SELECT count(*) FROM features.user_features WHERE feature_date = ?",
                            [day]).fetchone()[0]
        rows = con.execute(
            "SELECT s.purchase_propensity_14d, s.purchase_propensity_decile, s.expected_spend_90d, "
            "s.score_drivers, s.score_missing_reason, s.purchase_model_version, "
            f"{day!r}::DATE - f.first_seen_date + 1 "
            "FROM ml.user_scores s JOIN features.user_features f "
            "ON f.user_id = s.user_id AND f.feature_date = s.score_date WHERE s.score_date = ?",
            [day]).fetchall()
    assert len(rows) == users > 0
    for prob, decile, spend_value, drivers, reason, version, observed in rows:
        assert spend_value is None and "expected_spend_90d: no propensity_spend_90d" in reason
        if observed < TEST_CONFIG["min_user_days"]:
            assert prob is None and "too little history to score" in reason
            continue
        assert 0 <= prob <= 1 and 1 <= decile <= 10 and version
        purchase = [d for d in drivers if d["target"] == "purchase_14d"]
        assert len(purchase) == 3 and "purchase propensity by" in purchase[0]["text"]


def test_cutoffs_move_to_days_that_have_features():
    """A closed or never-built day has no user_features rows: its cutoff moves to the day before."""
    p = P.Params(cutoffs=2, cutoff_step_days=7, min_history_days=14)
    first, last = DAY0, DAY0 + timedelta(days=89)
    days = [first + timedelta(days=i) for i in range(90)]
    closed = {last - timedelta(days=14), last - timedelta(days=28)}
    plan = P.plan_cutoffs(first, last, "purchase_14d", p, [d for d in days if d not in closed])
    assert plan.validation == last - timedelta(days=15)
    assert plan.training[0] == last - timedelta(days=29)
    assert not closed & {plan.validation, *plan.training, *plan.final}


def test_a_history_too_short_for_every_target_is_a_skip_with_each_reason(data_dir):
    warehouse = data_dir / "warehouse" / "test.duckdb"
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        prepare_connection(con)
        for d in range(10):
            activity(con, "A", DAY0 + timedelta(days=d))
            F.build_user_features(con, (DAY0 + timedelta(days=d)).isoformat())
    from profiling_assets.resources import pipeline_resources

    result = dg.materialize([scores.propensity_model], resources=pipeline_resources(),
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = result.asset_materializations_for_node("propensity_model")[0].metadata
    assert meta["skipped"].value.startswith("not trained: purchase_14d: too little history")
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    for target, window in (("purchase_14d", 14), ("churn_30d", 30), ("spend_90d", 90)):
        check = checks[f"{target}_beats_baseline"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.description.startswith(f"{target} not trained: too little history for a {window}-day")
