"""Segments: the naming rule on crafted centroids, stable ids across refits (shuffled users,
an unmatched segment), and the model and daily assignment end to end on a small demo."""

from dataclasses import fields, replace
from datetime import datetime

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from images import assert_floats, assert_pictures

from profiling_assets import registry, segments
from profiling_assets import segmentation as S

ZERO = dict.fromkeys(S.DESCRIBED, 0.0)


def z(**deviations: float) -> dict[str, float]:
    return {**ZERO, **deviations}


def test_names_follow_the_strongest_defining_deviation():
    assert S.segment_name(z(tenure=-2.5, recent_share=1.2))[0] == "New"
    assert S.segment_name(z(recency=1.8, orders=-1.2))[0] == "Lapsing"    # lapsing outweighs
    assert S.segment_name(z(orders=-1.6, view_to_cart=-1.5))[0] == "Window shoppers"
    # few orders because hardly ever seen is not window shopping
    assert S.segment_name(z(orders=-1.6, events=-1.5))[0] == S.FALLBACK_NAME
    assert S.segment_name(z(monetary=1.9, frequency=0.6))[0] == "High-value loyal"
    assert S.segment_name(z(monetary=1.9, frequency=-0.5))[0] == S.FALLBACK_NAME
    assert S.segment_name(z(price_ratio=-1.3, below_median_share=1.1))[0] == "Bargain hunters"
    assert S.segment_name(z(category_focus=1.4))[0] == "Category specialists"
    assert S.segment_name(z(category_focus=0.5, monetary=0.5))[0] == S.FALLBACK_NAME
    text = S.describe(z(monetary=2.5, category_focus=-0.1, orders=1.5, recency=-0.7),
                      {"monetary": 310.0, "orders": 7.0, "recency": 0.5},
                      {"monetary": 100.0, "orders": 3.0, "recency": 2.0})
    assert text == "spends 3.1x the average; 7.0 orders vs 3.0; last seen 0.5 days ago vs 2.0"


def test_segment_names_are_distinct_and_say_what_sets_a_segment_apart():
    centroids = [
        z(recency=2.2, recent_share=-1.0),                      # lapsing, the strongest claim
        z(recency=1.4, frequency=-0.6),                         # lapsing too, but weaker
        z(frequency=1.2, aov=-0.9, orders=0.6),                 # no archetype
        z(frequency=1.1, aov=-0.8, orders=0.5, monetary=0.3),   # the same words at first
        z(orders=-1.6, events=-1.5),                            # was "Occasional buyers"
        z(monetary=0.1),                                        # close to average
    ]
    names = S.segment_names(centroids)
    assert len(set(names)) == len(names), names
    assert names[0] == "Lapsing"
    assert names[1] == "Long-absent infrequent buyers"
    assert names[2].startswith("Frequent small-basket") and names[3].startswith("Frequent small-basket")
    assert names[2] != names[3]
    assert names[4] == "One-time low-activity buyers"
    assert names[5] == "Typical buyers"
    # a feature the data lacks never names a segment, whatever its (imputed) deviation
    assert S.segment_names([z(category_focus=-1.5, frequency=0.9)],
                           missing=frozenset({"category_focus"})) == ["Frequent buyers"]
    # identical centroids still get distinct names
    twins = S.segment_names([z(aov=1.0), z(aov=1.0), z(aov=1.0)])
    assert len(set(twins)) == 3 and twins[0] == "Big-basket buyers"


# --------------------------------------------------------------------------- stable ids

# Blob centres in transformed units (DESCRIBED order): distinct on the clustered features.
BLOBS = {
    "New":                  {"tenure": 1.5, "recent_share": 0.9, "recency": 0.3},
    "Lapsing":              {"recency": 2.5, "recent_share": 0.05},
    "Window shoppers":      {"orders": 0.0, "view_to_cart": 0.02, "monetary": 0.0},
    "High-value loyal":     {"orders": 2.5, "frequency": 2.6, "monetary": 7.0, "price_ratio": 1.0},
    "Bargain hunters":      {"price_ratio": -1.2, "below_median_share": 1.0},
    "Category specialists": {"category_focus": 0.97},
}
TYPICAL = {"recency": 0.7, "recent_share": 0.5, "frequency": 1.8, "events": 3.8, "orders": 1.4,
           "monetary": 4.5, "aov": 3.8, "tenure": 4.5, "view_to_cart": 0.25, "cart_to_purchase": 0.5,
           "price_ratio": 0.0, "below_median_share": 0.5, "category_focus": 0.5}


def blobs(names: list[str], per: int = 40, seed: int = 0) -> S.Inputs:
    rng = np.random.default_rng(seed)
    rows, users = [], []
    for b, name in enumerate(names):
        centre = np.array([{**TYPICAL, **BLOBS[name]}[f] for f in S.DESCRIBED])
        spread = np.abs(centre) * 0.03 + 0.01
        rows.append(centre + rng.normal(0, 1, (per, len(centre))) * spread)
        users += [f"{name[:3]}{b}-{i:03d}" for i in range(per)]
    X = pd.DataFrame(np.vstack(rows), columns=list(S.DESCRIBED))
    display = X.copy()
    n = len(users)
    factors = rng.normal(0, 1, (n, 4))
    factors[::7] = np.nan                       # users without factors
    text = rng.normal(0, 1, (n, 16))
    text[::5] = np.nan                          # users without text
    return S.Inputs(np.array(users), X, display, factors, text)


def shuffled(inputs: S.Inputs, seed: int) -> S.Inputs:
    order = np.random.default_rng(seed).permutation(len(inputs.users))
    return S.Inputs(inputs.users[order], inputs.behaviour.iloc[order].reset_index(drop=True),
                    inputs.display.iloc[order].reset_index(drop=True), inputs.factors[order],
                    inputs.text[order])


def saved(fit: S.Fit, folder) -> S.LoadedSegments:
    folder.mkdir()
    S.save_model(folder, fit, {"svd_version": None, "text_version": None})
    version = registry.ModelVersion(segments.MODEL_NAME, folder.name, datetime(2026, 10, 1), None, None,
                                    {}, {}, folder, registry.PRODUCTION)
    return S.load_model(version)


def by_user(fit: S.Fit, inputs: S.Inputs) -> dict[str, tuple[int, str]]:
    names = np.asarray(fit.names)[fit.labels]
    return dict(zip(inputs.users, zip(fit.user_segment_ids().tolist(), names.tolist(), strict=True),
                    strict=True))


CFG = S.Params(k_min=3, k_max=8, min_segment_users=5)


def test_refit_on_shuffled_users_keeps_ids_and_names(tmp_path):
    data = blobs(list(BLOBS))
    first = S.fit_segments(data, CFG)
    assert len(first.sizes) == 6 and sorted(first.names) == sorted(BLOBS)
    # each planted blob is one segment, named after it
    for user, (_, name) in by_user(first, data).items():
        assert name[:3] == user[:3]
    previous = saved(first, tmp_path / "v1")
    # the saved model assigns the fitted users to their own segments, confidently
    nearest, conf = S.assign(previous.space, previous.centroids, data)
    assert (previous.segment_ids[nearest] == first.user_segment_ids()).all()
    assert ((conf >= 0) & (conf <= 1)).all() and conf.mean() > 0.5

    again_data = shuffled(data, seed=3)
    again = S.fit_segments(again_data, replace(CFG, seed=11), previous)
    assert by_user(again, again_data) == by_user(first, data)
    assert all(d is not None and d < 0.2 for d in again.match_distances)
    # with no previous model, ids follow size order, so shuffling alone changes nothing either
    assert by_user(S.fit_segments(again_data, CFG), again_data) == by_user(first, data)
    # MiniBatchKMeans (large populations) finds the same segments
    mini = S.fit_segments(again_data, replace(CFG, minibatch_above=10))
    assert by_user(mini, again_data) == by_user(first, data)


def test_an_unmatched_segment_gets_a_new_id(tmp_path):
    five = [n for n in BLOBS if n != "Category specialists"]
    first = S.fit_segments(blobs(five, seed=1), replace(CFG, k=5))
    previous = saved(first, tmp_path / "v1")
    assert sorted(previous.segment_ids.tolist()) == [1, 2, 3, 4, 5] and previous.next_id == 6

    data = blobs(list(BLOBS), seed=2)
    second = S.fit_segments(data, replace(CFG, k=6), previous)
    ids = dict(zip(second.names, second.segment_ids, strict=True))
    assert ids["Category specialists"] == 6
    old = dict(zip(first.names, first.segment_ids, strict=True))
    assert {n: ids[n] for n in five} == old
    assert second.next_id == 7

    # a segment that moved beyond the threshold is new too; retired ids are not reused
    moved = previous.behaviour_centroids.copy()
    third_ids, dist, next_id = S.match_ids(moved[:4], previous, second.space, np.ones(4), 1.0)
    assert third_ids == previous.segment_ids[:4].tolist() and next_id == 6
    far = moved[:2] + 50 * second.space.behaviour_scale
    far_ids, dist, next_id = S.match_ids(far, previous, second.space, np.array([10, 20]), 1.0)
    assert far_ids == [7, 6] and dist == [None, None] and next_id == 8


# --------------------------------------------------------------------------- end to end

DAYS = ("2026-10-01", "2026-10-06")


@pytest.fixture
def demo(data_dir, build_demo):
    from profiling_assets import factors, features

    assets, resources, instance = build_demo(
        users=500, products=60, days=6,
        extra_assets=[features.user_daily_activity, features.user_features, factors.svd_model,
                      factors.user_factors, segments.segment_model, segments.user_segments],
        selection=["raw_events", "cleaned_events", "user_daily_activity", "user_features"])
    assert dg.materialize(assets, selection=["svd_model"], resources=resources, instance=instance,
                          run_config={"ops": {"svd_model": {"config": {
                              "window_days": 6, "horizon_days": 2, "k": 8, "families": ["svd"]}}}}).success
    assert dg.materialize(assets, selection=["user_factors"], resources=resources, instance=instance,
                          tags={"dagster/asset_partition_range_start": DAYS[0],
                                "dagster/asset_partition_range_end": DAYS[1]}).success
    return assets, resources, instance, data_dir / "warehouse" / "test.duckdb"


def test_model_then_every_user_of_the_day_gets_one_segment(demo, data_dir):
    assets, resources, instance, warehouse = demo
    day = DAYS[1]
    with duckdb.connect(str(warehouse)) as con, \
            pytest.raises(registry.NoProductionModelError, match="segment_model"):
        registry.require_production(con, segments.MODEL_NAME)

    result = dg.materialize(assets, selection=["segment_model"], resources=resources, instance=instance)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("segment_model")[0].metadata.items()}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["segments_well_formed"].passed
    assert segments.SegmentModelConfig().k_min <= meta["k"] <= segments.SegmentModelConfig().k_max
    assert 0 < meta["ari_vs_archetypes"] <= 1          # the generator's ground truth is there
    assert meta["feature_date"] == day and meta["silhouette"] > 0.1
    version = meta["version"]
    # pictures: segment sizes, silhouette by k, the users in two principal components; the
    # silhouette of every k tried and each segment's users as numbers
    raw = result.asset_materializations_for_node("segment_model")[0].metadata
    assert_pictures(raw, "segment_sizes_plot", "silhouette_plot", "projection_plot")
    config = segments.SegmentModelConfig()
    tried = [f"silhouette_k{k}" for k in range(config.k_min, config.k_max + 1)]
    assert_floats(raw, "projection_explained_variance", *tried)
    assert max(meta[k] for k in tried) == meta["silhouette"]
    assert sum(v for k, v in meta.items() if k.startswith("segment_") and k.endswith("_users")) \
        == meta["users"]

    daily = dg.materialize(assets, selection=["user_segments"], partition_key=day,
                           resources=resources, instance=instance)
    dmeta = {k: v.value for k, v in daily.asset_materializations_for_node("user_segments")[0].metadata.items()}
    assert dmeta["model_version"] == version
    with duckdb.connect(str(warehouse), read_only=True) as con:
        featured = {r[0] for r in con.execute("SELECT user_id FROM features.user_features "
                                              "WHERE feature_date = ?", [day]).fetchall()}
        rows = con.execute("SELECT user_id, segment_id, segment_name, confidence, model_version "
                           "FROM ml.user_segments WHERE segment_date = ?", [day]).fetchall()
        segment_rows = con.execute("SELECT segment_id, segment_name, size FROM ml.segments "
                               "WHERE model_version = ?", [version]).fetchall()
        assert registry.require_production(con, segments.MODEL_NAME).version == version
    assert len(rows) == len({r[0] for r in rows}) == len(featured) == dmeta["users"]
    assert {r[0] for r in rows} == featured
    assert all(0.0 <= r[3] <= 1.0 for r in rows) and {r[4] for r in rows} == {version}
    assert {(r[1], r[2]) for r in rows} <= {(s[0], s[1]) for s in segment_rows}
    assert len({s[1] for s in segment_rows}) == len(segment_rows) == meta["k"]
    # the model was fitted on this day's users: assignment reproduces the fitted sizes
    assert sum(s[2] for s in segment_rows) == len(featured)

    # a refit on the same data keeps every id and name; the day re-run replaces its rows
    refit = dg.materialize(assets, selection=["segment_model"], resources=resources, instance=instance)
    rmeta = refit.asset_materializations_for_node("segment_model")[0].metadata
    assert rmeta["previous_version"].value == version
    with duckdb.connect(str(warehouse), read_only=True) as con:
        again = con.execute("SELECT segment_id, segment_name, size FROM ml.segments WHERE model_version = ?",
                            [rmeta["version"].value]).fetchall()
    assert sorted(again) == sorted(segment_rows)
    assert dg.materialize(assets, selection=["user_segments"], partition_key=day, resources=resources,
                          instance=instance).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ml.user_segments").fetchone()[0] == len(featured)


def test_no_ground_truth_is_said_so(data_dir):
    assert S.archetype_agreement(np.array(["u1"]), np.array([1])) is None


def test_the_asset_config_is_the_model_params():
    # the asset builds Params from its config: a field on one side only would be lost or fail
    assert list(segments.SegmentModelConfig.model_fields) == [f.name for f in fields(S.Params)]
    assert S.Params(**segments.SegmentModelConfig().model_dump()) == S.Params()
