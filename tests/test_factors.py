"""Collaborative factors and recommendations: the maths on tiny known matrices, the metrics on
a hand-computed example, no hold-out leakage, the evaluation protocol on crafted logs, and the
assets end to end on a small demo (with and without a production model)."""

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from images import assert_floats, assert_pictures

from profiling_assets import factorization as F
from profiling_assets import factors, features, registry
from profiling_assets import recommenders as R
from profiling_assets.resources import prepare_connection


def test_factors_reproduce_a_low_rank_matrix_and_fold_in_matches_fitted_rows():
    rng = np.random.default_rng(0)
    # rank 2 by construction: two groups of users, each liking its own items
    A = rng.uniform(0.5, 2.0, (8, 2))
    B = np.zeros((2, 6))
    B[0, :3] = [3.0, 2.0, 1.0]
    B[1, 3:] = [1.0, 2.0, 3.0]
    X = sp.csr_matrix(A @ B)
    f = F.fit_svd(X, k=2, seed=0)
    U = f.fold_in(X)
    assert f.k == 2 and np.all(np.diff(f.singular_values) <= 0)
    np.testing.assert_allclose(f.scores(U), X.toarray(), atol=1e-8)
    # the fold-in of the training rows is the fitted U: orthonormal columns
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-8)
    np.testing.assert_allclose(f.fold_in(X[3]), U[3:4], atol=1e-12)
    # k is capped below the number of items; null components are dropped
    assert F.fit_svd(X, k=50, seed=0).k == 2


def test_top_n_excludes_and_orders():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.3, 0.2, 0.1, 0.0]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 1, 0]], dtype=bool))
    idx, val = F.top_n(lambda lo, hi: scores[lo:hi], exclude, 3, batch=1)
    assert idx.tolist() == [[3, 2, 0], [3, -1, -1]]
    assert val[0].tolist() == [0.7, 0.5, 0.1] and np.isneginf(val[1, 1:]).all()


def test_ranking_metrics_match_a_hand_computed_example():
    recs = [["a", "b", "c"], ["x", "y"], ["q"]]
    relevant = [{"b", "d"}, {"z"}, set()]  # the third user has nothing to find: not counted
    m = F.ranking_metrics(recs, relevant, k=3)
    # user 1: one of two found at rank 2 -> recall 1/2, NDCG (1/log2 3) / (1 + 1/log2 3)
    ndcg1 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert m["users"] == 2
    assert m["recall"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["ndcg"] == pytest.approx((ndcg1 + 0.0) / 2)
    assert F.ranking_metrics([["a", "b"]], [{"a", "b"}], k=3)["ndcg"] == pytest.approx(1.0)
    assert F.coverage(recs, 10, k=3) == pytest.approx(6 / 10)


@pytest.fixture
def con(data_dir):
    con = duckdb.connect(str(data_dir / "factors.duckdb"))
    prepare_connection(con)
    yield con
    con.close()


def _events(con, rows):
    """Insert (day, user, type, product, rating) rows into clean.events."""
    now = datetime.now(UTC)
    for i, (day, user, etype, product, rating) in enumerate(rows):
        con.execute(
            "INSERT INTO clean.events (event_date, event_id, ts, user_id, event_type, product_id,"
            " in_catalog, rating, source_file, line_no, cleaned_at) VALUES (?, ?, ?, ?, ?, ?, true, ?,"
            " 'test', ?, ?)", [day, f"e{i}", f"{day} 12:00:00", user, etype, product, rating, i, now])


def test_weighting_and_no_hold_out_leakage(con):
    _events(con, [
        ("2026-10-01", "u1", "view", "p1", None),
        ("2026-10-03", "u1", "purchase", "p2", None),
        ("2026-10-03", "u1", "return", "p2", None),          # cancels the purchase
        ("2026-10-03", "u1", "review", "p3", 5),             # +w_review
        ("2026-10-03", "u1", "search", None, None),          # no product: not an interaction
        ("2026-10-04", "u1", "purchase", "p4", None),        # hold-out
        ("2026-10-05", "u2", "view", "p1", None),            # hold-out only user
    ])
    split = date(2026, 10, 4)
    train = F.read_interactions(con, date(2026, 10, 1), date(2026, 10, 3),
                                weights=F.DEFAULT_WEIGHTS, half_life_days=2.0)
    assert (train["last_date"] < pd.Timestamp(split)).all()
    assert set(train["user_id"]) == {"u1"} and "p4" not in set(train["product_id"])
    w = train.set_index("product_id")["weight"]
    assert w["p1"] == pytest.approx(0.5)                # view, 2 days = one half-life before ref
    assert w["p2"] == pytest.approx(0.0)                # purchase 5 + return -5
    assert w["p3"] == pytest.approx(2.0)
    m = F.build_matrix(train)
    assert m.X.shape == (1, 2)                           # p2 carries no weight: not a column
    assert F.scale(np.array([-3.0, 0.0, np.e - 1])).tolist() == pytest.approx([0.0, 0.0, 1.0])
    test = F.sql.run(con, "select_horizon_purchases", first_day=split, last_day=date(2026, 10, 5)).df()
    assert test.values.tolist() == [["u1", "p4"]]
    with pytest.raises(ValueError, match="unknown event types"):
        F.weight_params({"veiw": 1.0}, 14.0)


# --------------------------------------------------------------------------- the protocol


def _bulk_events(con, rows):
    """Insert many (day, user, type, product) rows into clean.events at once."""
    df = pd.DataFrame(rows, columns=["event_date", "user_id", "event_type", "product_id"])
    df["event_id"] = [f"b{i}" for i in range(len(df))]
    con.register("bulk", df)
    con.execute(
        "INSERT INTO clean.events (event_date, event_id, ts, user_id, event_type, product_id, in_catalog,"
        " source_file, line_no, cleaned_at) SELECT event_date::DATE, event_id, (event_date || ' 12:00:00')"
        "::TIMESTAMPTZ, user_id, event_type, product_id, true, 'bulk', row_number() OVER (), now() FROM bulk")
    con.unregister("bulk")


def _day(i: int) -> str:
    return (date(2026, 9, 1) + pd.Timedelta(days=i)).strftime("%Y-%m-%d")


def _params(**kw):
    return R.Params(weights=dict(F.DEFAULT_WEIGHTS), horizon_days=7, k=4, als_iterations=5, **kw)


def test_reorder_heavy_log_buy_again_is_the_bar_and_the_blend_does_not_lose(con):
    rng = np.random.default_rng(1)
    rows = []
    for u in range(80):
        own = rng.choice(40, 3, replace=False)  # each user re-orders their own three items
        for d in range(0, 42, 3):
            rows.append((_day(d + u % 3), f"u{u}", "purchase", f"p{rng.choice(own)}"))
        rows.append((_day(int(rng.integers(42))), f"u{u}", "purchase", f"p{rng.integers(40, 200)}"))
    _bulk_events(con, rows)
    out = R.evaluate(con, _params(families=("svd", "item_knn")))
    M = out.metrics
    assert out.strongest_baseline == "buy_again"
    assert M["reorder_share"] > 0.8
    assert M["buy_again_recall_at_10"] > 3 * M["popularity_unseen_recall_at_10"]
    assert M["recall_at_10"] >= M["buy_again_recall_at_10"] - 1e-9   # the blend never loses to it
    assert out.slots >= 3                                            # learnt: re-orders first
    assert {row[0].split(":")[0].split(" ")[0] for row in out.table} >= {"popularity", "buy_again", "svd"}


def test_collaborative_log_the_model_beats_every_baseline(con):
    rng = np.random.default_rng(2)
    rows = []
    for u in range(120):
        group = u % 3  # three tastes, each its own 30 items; never a re-order
        items = rng.permutation(np.arange(30) + 30 * group)
        for d, item in zip(range(0, 40, 2), items, strict=False):
            rows.append((_day(d + u % 2), f"u{u}", "purchase", f"p{item}"))
            rows.append((_day(d + u % 2), f"u{u}", "view", f"p{rng.choice(items)}"))
    _bulk_events(con, rows)
    out = R.evaluate(con, _params(families=("svd", "als", "item_knn")))
    M = out.metrics
    assert M["reorder_share"] < 0.2
    assert out.slots <= 5
    assert M["lift_over_strongest_baseline"] > 1.5, out.table
    for b in R.BASELINES:
        assert M["recall_at_10"] > M[f"{b}_recall_at_10"]
    passed, why = F.promotion_decision(M, 0.02)
    assert passed, why


def test_short_history_is_a_clear_skip(con):
    _bulk_events(con, [(_day(0), "u1", "purchase", "p1"), (_day(1), "u1", "purchase", "p2")])
    with pytest.raises(R.NotEnoughHistory, match="holds 2 day"):
        R.evaluate(con, _params())
    _bulk_events(con, [(_day(d), "u1", "purchase", "p1") for d in range(2, 9)])
    with pytest.raises(R.NotEnoughHistory, match="only 1 user"):   # too few to evaluate
        R.evaluate(con, _params())


def test_short_history_skips_the_model_asset_without_failing_the_run(data_dir):
    from profiling_assets.resources import pipeline_resources

    resources = pipeline_resources()
    with resources["warehouse"].get_connection() as con:
        _bulk_events(con, [(_day(0), "u1", "purchase", "p1"), (_day(1), "u2", "purchase", "p2")])
    result = dg.materialize([factors.svd_model], resources=resources, raise_on_error=False)
    assert result.success
    meta = result.asset_materializations_for_node("svd_model")[0].metadata
    assert "holds 2 day(s)" in meta["skipped"].value
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["beats_strongest_baseline"].passed


# --------------------------------------------------------------------------- end to end

DAYS = ("2026-10-01", "2026-10-06")


@pytest.fixture
def demo(data_dir, build_demo):
    _, resources, instance = build_demo(
        users=400, products=60, days=6, extra_assets=[features.user_daily_activity, features.user_features],
        selection=("raw_events", "cleaned_events", "user_daily_activity", "user_features"))
    return resources, instance, data_dir / "warehouse" / "test.duckdb"


def _fit(resources, instance, **config):
    run_config = {"ops": {"svd_model": {"config": {"k": 8, "als_iterations": 5, **config}}}}
    result = dg.materialize([factors.svd_model], resources=resources, instance=instance,
                            run_config=run_config, raise_on_error=False)
    meta = result.asset_materializations_for_node("svd_model")[0].metadata
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    return meta, checks


def _profile_users(con, day):
    return {r[0] for r in con.execute(
        "SELECT user_id FROM features.user_features WHERE feature_date = ? UNION "
        "SELECT user_id FROM clean.events WHERE event_date = ?", [day, day]).fetchall()}


def test_without_production_recommendations_fall_back_to_the_baseline(demo):
    resources, instance, warehouse = demo
    day = DAYS[1]
    daily = dg.materialize([factors.recommendations], partition_key=day, resources=resources, instance=instance)
    assert daily.success
    meta = daily.asset_materializations_for_node("recommendations")[0].metadata
    assert meta["fallback"].value.startswith("buy_again (no evaluation yet")
    assert meta["model_version"].value == "none"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        users = _profile_users(con, day)
        got = con.execute("SELECT user_id, count(*), list(DISTINCT source) FROM ml.recommendations "
                          "WHERE rec_date = ? GROUP BY 1", [day]).fetchall()
        assert {u for u, _, _ in got} == users and {c for _, c, _ in got} == {10}
        assert set().union(*(set(s) for _, _, s in got)) == {"buy_again", "popularity"}
        # buy-again rows are items the user bought; popularity rows never are
        wrong = con.execute(
            "SELECT count(*) FILTER (WHERE r.source = 'buy_again' AND e.product_id IS NULL), "
            "count(*) FILTER (WHERE r.source = 'popularity' AND e.product_id IS NOT NULL) "
            "FROM ml.recommendations r LEFT JOIN (SELECT DISTINCT user_id, product_id FROM clean.events "
            "WHERE event_type = 'purchase' AND event_date <= ?) e USING (user_id, product_id)", [day]
        ).fetchone()
        assert wrong == (0, 0)


def test_pipeline_fits_promotes_folds_in_and_recommends_to_every_profiled_user(demo):
    resources, instance, warehouse = demo
    meta, checks = _fit(resources, instance)
    assert meta["recall_at_10"].value > meta["strongest_baseline_recall_at_10"].value
    assert checks["beats_strongest_baseline"].passed, checks["beats_strongest_baseline"].description
    version, winner = meta["version"].value, meta["winner"].value
    evaluation = meta["evaluation"].value
    assert [c.name for c in evaluation.schema.columns] == R.TABLE_HEADER
    assert all(isinstance(r.data["recall@10"], float) for r in evaluation.records)
    assert "days" in meta["window_chosen"].value
    # pictures: recall@10 and NDCG@10 of every recommender, the window's interactions per day;
    # the numbers behind the bars as floats
    assert_pictures(meta, "recommenders_plot", "window_plot")
    assert_floats(meta, *(f"{who}_{what}_at_10" for who in ("svd", "als", "item_knn", *R.BASELINES)
                          for what in ("recall", "ndcg")))
    assert meta[f"{winner}_recall_at_10"].value == meta["recall_at_10"].value
    assert meta["window_events"].value > 0

    # a version that misses the floor stays a candidate; production does not move
    _, failing = _fit(resources, instance, min_recall_at_10=1.0)
    assert not failing["beats_strongest_baseline"].passed
    day = DAYS[1]
    with duckdb.connect(str(warehouse)) as con:
        assert registry.require_production(con, "svd_model").version == version
        metrics = registry.get(con, "svd_model", version).metrics
        for who in ("svd", "als", "item_knn", *R.BASELINES):   # every recommender x metric
            for what in ("recall", "ndcg", "hit_rate", "coverage"):
                assert 0.0 <= metrics[f"{who}_{what}_at_10"] <= 1.0
        assert metrics["winner"] == winner and 0 <= metrics["reorder_share"] <= 1
        statuses = sorted(v.status for v in registry.versions(con, "svd_model"))
        assert statuses == [registry.CANDIDATE, registry.PRODUCTION]
        # two cold users on the last day: one viewed only a product the model never saw, one
        # only searched
        n = con.execute("SELECT count(*) FROM clean.events").fetchone()[0]
        now = datetime.now(UTC)
        for i, (user, etype, product) in enumerate((("NEW1", "view", "P99999"), ("NEW2", "search", None))):
            con.execute(
                "INSERT INTO clean.events (event_date, event_id, ts, user_id, event_type, product_id,"
                " in_catalog, source_file, line_no, cleaned_at) VALUES (?, ?, ?, ?, ?, ?, false, 't', ?, ?)",
                [day, f"cold{i}", f"{day} 10:00:00", user, etype, product, n + i, now])

    daily = dg.materialize([factors.user_factors, factors.recommendations], partition_key=day,
                           resources=resources, instance=instance)
    assert daily.success
    fmeta = daily.asset_materializations_for_node("user_factors")[0].metadata
    assert fmeta["model_version"].value == version
    assert fmeta["items_unknown_to_model"].value >= 1
    assert fmeta["users_without_known_items"].value >= 2
    rmeta = daily.asset_materializations_for_node("recommendations")[0].metadata
    assert "fallback" not in rmeta and rmeta["policy"].value.startswith(winner)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT DISTINCT model_version FROM ml.user_factors "
                                          "UNION SELECT DISTINCT model_version FROM ml.recommendations"
                                          ).fetchall()} == {version}
        k = con.execute("SELECT max(len(factors)) FROM ml.user_factors").fetchone()[0]
        assert k == meta["k"].value
        # every user of the profile window (not only the day's active ones) gets 10
        users = _profile_users(con, day)
        active = con.execute("SELECT count(DISTINCT user_id) FROM clean.events WHERE event_date = ?",
                             [day]).fetchone()[0]
        assert len(users) > active
        per_user = dict(con.execute("SELECT user_id, count(*) FROM ml.recommendations WHERE rec_date = ? "
                                    "GROUP BY 1", [day]).fetchall())
        assert set(per_user) == users and set(per_user.values()) == {10}
        # an item the user bought is only ever a buy-again row
        bought = con.execute(
            "SELECT count(*) FROM ml.recommendations r JOIN clean.events e ON e.user_id = r.user_id "
            "AND e.product_id = r.product_id AND e.event_type = 'purchase' AND e.event_date <= r.rec_date "
            "WHERE r.source <> 'buy_again'").fetchone()[0]
        assert bought == 0
        sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM ml.recommendations").fetchall()}
        family = metrics["reranked_family"] if winner == R.RERANKED else winner
        assert family in sources and sources <= {family, "buy_again", "popularity"}
        # the cold users get popularity, labelled as such
        cold = dict(con.execute("SELECT user_id, list(DISTINCT source) FROM ml.recommendations "
                                "WHERE user_id IN ('NEW1', 'NEW2') GROUP BY 1").fetchall())
        assert cold == {"NEW1": ["popularity"], "NEW2": ["popularity"]}

    # re-running the day replaces it
    again = dg.materialize([factors.user_factors, factors.recommendations], partition_key=day,
                           resources=resources, instance=instance)
    assert again.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ml.recommendations").fetchone()[0] == len(users) * 10

    # a window read in passes over disjoint groups of users folds in the same users alike
    query = ("SELECT user_id, known_items, unknown_items, factors FROM ml.user_factors "
             "WHERE factor_date = ? ORDER BY user_id")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        one = con.execute(query, [day]).fetchall()
        (events,) = con.execute("SELECT count(*) FROM clean.events").fetchone()
    passes = dg.materialize([factors.user_factors], partition_key=day, resources=resources,
                            instance=instance, run_config={"ops": {"user_factors": {"config": {
                                "events_per_pass": -(-events // 3)}}}})
    pmeta = passes.asset_materializations_for_node("user_factors")[0].metadata
    assert {k: pmeta[k].value for k in ("users_with_factors", "items_unknown_to_model",
                                         "users_without_known_items")} == {
        k: fmeta[k].value for k in ("users_with_factors", "items_unknown_to_model",
                                    "users_without_known_items")}
    assert pmeta["window_passes"].value >= 2 and fmeta["window_passes"].value == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        split = con.execute(query, [day]).fetchall()
    assert [r[:3] for r in split] == [r[:3] for r in one]
    for a, b in zip(split, one, strict=True):
        assert np.allclose(a[3], b[3], atol=1e-5)


# --------------------------------------------------------------------------- re-ranker


def _mixed_log(rng, days=56):
    """Half the users only re-order (six own items of a shared pool of 60, two a visit every
    two days); half only explore (a taste of 30 items, a new one every two days, never twice)."""
    rows = []
    for u in range(160):
        if u % 2 == 0:
            own = rng.choice(60, 6, replace=False) + 100
            for d in range(u % 2, days, 2):
                for item in rng.choice(own, 2, replace=False):
                    rows.append((_day(d), f"u{u}", "purchase", f"p{item}"))
        else:
            items = rng.permutation(np.arange(30) + 30 * (u // 2 % 3))
            for d, item in zip(range(u // 2 % 2, days, 2), items, strict=False):
                rows.append((_day(d), f"u{u}", "purchase", f"p{item}"))
                rows.append((_day(d), f"u{u}", "view", f"p{rng.choice(items)}"))
    return rows


def test_reranker_blends_per_user_and_beats_buy_again_and_every_global_blend(con):
    _bulk_events(con, _mixed_log(np.random.default_rng(3)))
    out = R.evaluate(con, _params(families=("svd", "item_knn")))
    M = out.metrics
    best_global = max(M[f"{f}_recall_at_10"] for f in ("svd", "item_knn"))
    assert M["reranked_recall_at_10"] > M["buy_again_recall_at_10"] * 1.1, out.table
    assert M["reranked_recall_at_10"] > best_global * 1.1, out.table
    assert out.winner == R.RERANKED and M["reranked_family"] in ("svd", "item_knn")
    assert M["reranked_inner_recall_at_10"] > 0   # cross-fitted: out-of-sample on the inner split
    assert set(R.FEATURES) == {k.removeprefix("reranked_importance_") for k in M
                               if k.startswith("reranked_importance_")}
    lists = out.outer.lists[R.RERANKED]
    sources = {R.SOURCES[s] for s in lists.src[lists.src >= 0]}
    assert sources >= {"buy_again", M["reranked_family"]}
    assert any("reranked: per user" in row[0] for row in out.table)


def test_reranker_features_never_see_the_days_after_the_cutoff(con):
    rng = np.random.default_rng(4)
    rows = _mixed_log(rng, days=40)
    cutoff = date.fromisoformat(_day(30))
    _bulk_events(con, [r for r in rows if r[0] < _day(30)])
    params = _params()
    users = sorted({r[1] for r in rows if r[0] < _day(30)})

    def features():
        data = R.read_split(con, cutoff, 7, 28, params, date.fromisoformat(_day(0)))
        pop, c = R.split_candidates(data, users, "svd", params)
        return pop.catalogue[c.i], c.X, c.src

    before = features()
    # the days after the cutoff: new purchases, re-orders, a new user, a new item
    _bulk_events(con, [r for r in rows if r[0] >= _day(30)]
                 + [(_day(31), "u0", "purchase", "p999"), (_day(30), "fresh", "purchase", "p100"),
                    (_day(35), "u1", "purchase", "p100")] * 3)
    after = features()
    assert len(before[0]) > 1000
    assert list(before[0]) == list(after[0])
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[2], after[2])


def test_a_promoted_reranker_is_saved_and_ranks_the_daily_candidates_per_user(data_dir):
    from profiling_assets.resources import pipeline_resources

    # the model_registry resource decides where versions go, not the environment
    models = data_dir.parent / "registry-elsewhere"
    resources = pipeline_resources(models_dir=models)
    with resources["warehouse"].get_connection() as con:
        _bulk_events(con, _mixed_log(np.random.default_rng(3)))
    config = {"k": 4, "horizon_days": 7, "families": ["svd", "item_knn"]}
    result = dg.materialize([factors.svd_model], resources=resources,
                            run_config={"ops": {"svd_model": {"config": config}}})
    meta = result.asset_materializations_for_node("svd_model")[0].metadata
    assert meta["winner"].value == R.RERANKED and meta["status"].value == registry.PRODUCTION
    assert "reranker_importances" in meta
    folder = meta["artifact"].value
    with resources["warehouse"].get_connection() as con:
        model = F.load_model(registry.require_production(con, "svd_model"))
    assert model.reranker is not None and (F.Path(folder) / "reranker.joblib").exists()
    assert F.Path(folder).parent == models / "svd_model"
    assert not (data_dir / "models").exists()
    family = model.reranker.family

    day = _day(54)   # the re-orderers and half the explorers are active that day
    daily = dg.materialize([factors.recommendations], partition_key=day, resources=resources)
    rmeta = daily.asset_materializations_for_node("recommendations")[0].metadata
    assert "classifier" in rmeta["policy"].value and "fallback" not in rmeta
    with resources["warehouse"].get_connection() as con:
        recs = con.execute("SELECT user_id, rank, product_id, source, model_version FROM ml.recommendations "
                           "WHERE rec_date = ?", [day]).df()
        active = {r[0] for r in con.execute("SELECT DISTINCT user_id FROM clean.events WHERE event_date = ?",
                                            [day]).fetchall()}
        bought = {tuple(r) for r in con.execute(
            "SELECT DISTINCT user_id, product_id FROM clean.events WHERE event_type = 'purchase' "
            "AND event_date <= ?", [day]).fetchall()}
    assert set(recs["user_id"]) == active and (recs.groupby("user_id").size() == 10).all()
    assert set(recs["model_version"]) == {meta["version"].value}
    assert set(recs["source"]) <= {"buy_again", family, "popularity"}
    own = np.array([(u, p) in bought for u, p in zip(recs["user_id"], recs["product_id"], strict=True)])
    assert ((recs["source"] == "buy_again").to_numpy() == own).all()   # own items only as buy_again
    # per user: a re-orderer's list opens with their own items, an explorer's with the model's
    # (by day 54 an explorer has only two or three items of their taste left unbought)
    recs["reorderer"] = recs["user_id"].str[1:].astype(int) % 2 == 0
    again = recs["source"] == "buy_again"
    assert again[recs["reorderer"] & (recs["rank"] <= 5)].mean() >= 0.9
    assert again[~recs["reorderer"] & (recs["rank"] <= 2)].mean() <= 0.1


def test_a_gain_within_chance_is_not_promoted():
    """The winner must beat the strongest baseline by more than the luck of which users bought:
    one extra hit among 500 users is refused, a gain on a fifth of them is promoted."""
    from profiling_assets.factorization import promotion_decision
    from profiling_assets.recommenders import paired_bootstrap

    rng = np.random.default_rng(0)
    baseline = (rng.random(500) < 0.4).astype(float)
    lucky = baseline.copy()
    lucky[np.flatnonzero(baseline == 0)[0]] = 1.0
    better = np.where(rng.random(500) < 0.2, 1.0, baseline)
    for model, promoted in ((lucky, False), (better, True)):
        gain, low, high = paired_bootstrap(model, baseline)
        metrics = {"recall_at_10": model.mean(), "strongest_baseline_recall_at_10": baseline.mean(),
                   "strongest_baseline": "buy_again", "winner": "svd",
                   "recall_gain_over_strongest": gain, "recall_gain_ci_low": low,
                   "recall_gain_ci_high": high, "recall_gain_ci_level": 0.9}
        passed, why = promotion_decision(metrics, 0.01)
        assert passed is promoted, why
        assert low <= gain <= high
    assert "no more than chance" in promotion_decision(
        {**metrics, "recall_gain_ci_low": -0.001}, 0.01)[1]


def test_blend_keeps_order_and_never_repeats_an_item():
    """The vectorised blend equals the plain reading of its rule on random left-packed lists:
    up to `slots` of the first list, then the second, then the fill, no item twice."""
    from profiling_assets import recommenders as R

    def by_loop(parts, n):
        out = []
        for row in zip(*[p for p, _ in parts], strict=True):
            picked = []
            for items, (_, cap) in zip(row, parts, strict=True):
                taken = 0
                for j in items:
                    if len(picked) == n or taken == cap:
                        break
                    if j >= 0 and j not in picked:
                        picked.append(int(j))
                        taken += 1
            out.append(picked + [-1] * (n - len(picked)))
        return np.array(out)

    rng = np.random.default_rng(1)

    def lists(users, items):
        idx = np.full((users, 10), -1)
        for u in range(users):
            k = rng.integers(0, min(10, items) + 1)
            idx[u, :k] = rng.choice(items, size=k, replace=False)
        return R.Lists(idx, np.where(idx >= 0, 0, -1).astype(np.int8))

    for _ in range(20):
        items = int(rng.integers(5, 40))
        a, b, f = lists(100, items), lists(100, items), lists(100, items)
        for slots in (0, 3, 10):
            got = R.blend(a, b, slots, 10, f).idx
            assert (got == by_loop([(a.idx, slots), (b.idx, 10), (f.idx, 10)], 10)).all()


def test_top_columns_picks_what_argpartition_picks():
    """The pruned top-m of each row (scores plus a tie-breaking shift) is argpartition's, less
    its non-finite values, also on rows with ties at the m-th value, NaN, few finite values."""
    rng = np.random.default_rng(7)
    S = rng.standard_normal((60, 4000)).astype(np.float32)
    S[1, :3990] = -np.inf
    S[2] = np.round(S[2], 1)
    S[3, 5] = np.nan
    S[4] = 0.0
    S[5, 100:300] = 3.0
    shift = (-np.arange(4000) / 4000 * 1e-6).astype(np.float32)
    for sh in (None, shift):
        T = S if sh is None else S + sh
        part = np.argpartition(T, T.shape[1] - 50, axis=1)[:, -50:]
        val = np.take_along_axis(T, part, 1)
        r, c = np.nonzero(np.isfinite(val))
        want = sorted(zip(r.tolist(), part[r, c].tolist(), val[r, c].tolist(), strict=True))
        got = sorted(zip(*(x.tolist() for x in R.top_columns(S, 50, sh)), strict=True))
        assert got == want
