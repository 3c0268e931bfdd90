"""Collaborative factors: the maths on tiny known matrices, the evaluation on a hand-computed
example, no hold-out leakage, and the assets end to end on a small demo."""

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from profiling_assets import factors as F
from profiling_assets import registry
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
    test = F.sql.run(con, "select_svd_test_purchases", first_day=split, last_day=date(2026, 10, 5)).df()
    assert test.values.tolist() == [["u1", "p4"]]
    with pytest.raises(ValueError, match="unknown event types"):
        F.weight_params({"veiw": 1.0}, 14.0)


# --------------------------------------------------------------------------- end to end

DAYS = ("2026-10-01", "2026-10-06")


@pytest.fixture
def demo(data_dir, build_demo):
    _, resources, instance = build_demo(users=400, products=60, days=6)
    return resources, instance, data_dir / "warehouse" / "test.duckdb"


def _fit(resources, instance, **config):
    run_config = {"ops": {"svd_model": {"config": {"window_days": 6, "eval_holdout_days": 2, "k": 8,
                                                   **config}}}}
    result = dg.materialize([F.svd_model], resources=resources, instance=instance,
                            run_config=run_config, raise_on_error=False)
    meta = result.asset_materializations_for_node("svd_model")[0].metadata
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    return meta, checks


def test_pipeline_fits_promotes_folds_in_and_recommends(demo):
    resources, instance, warehouse = demo
    meta, checks = _fit(resources, instance)
    for who in ("svd", "popularity"):
        for what in ("recall_at_10", "ndcg_at_10", "coverage_at_10"):
            assert 0.0 <= meta[f"{who}_{what}"].value <= 1.0
    assert meta["svd_recall_at_10"].value > meta["popularity_recall_at_10"].value
    assert checks["svd_beats_popularity"].passed
    version = meta["version"].value

    # a version that misses the floor stays a candidate; production does not move
    _, failing = _fit(resources, instance, min_recall_at_10=1.0)
    assert not failing["svd_beats_popularity"].passed
    with duckdb.connect(str(warehouse)) as con:
        assert registry.require_production(con, "svd_model").version == version
        statuses = sorted(v.status for v in registry.versions(con, "svd_model"))
        assert statuses == [registry.CANDIDATE, registry.PRODUCTION]
        # two cold users on the last day: one viewed only a product the model never saw, one
        # only searched
        day = DAYS[1]
        n = con.execute("SELECT count(*) FROM clean.events").fetchone()[0]
        now = datetime.now(UTC)
        for i, (user, etype, product) in enumerate((("NEW1", "view", "P99999"), ("NEW2", "search", None))):
            con.execute(
                "INSERT INTO clean.events (event_date, event_id, ts, user_id, event_type, product_id,"
                " in_catalog, source_file, line_no, cleaned_at) VALUES (?, ?, ?, ?, ?, ?, false, 't', ?, ?)",
                [day, f"cold{i}", f"{day} 10:00:00", user, etype, product, n + i, now])

    daily = dg.materialize([F.user_factors, F.recommendations], partition_key=day,
                           resources=resources, instance=instance)
    assert daily.success
    fmeta = daily.asset_materializations_for_node("user_factors")[0].metadata
    assert fmeta["model_version"].value == version
    assert fmeta["items_unknown_to_model"].value >= 1
    assert fmeta["users_without_known_items"].value >= 2

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT DISTINCT model_version FROM ml.user_factors "
                                          "UNION SELECT DISTINCT model_version FROM ml.recommendations"
                                          ).fetchall()} == {version}
        k = con.execute("SELECT max(len(factors)) FROM ml.user_factors").fetchone()[0]
        assert k == meta["k"].value
        # every active user gets 10 recommendations, none of them an item they ever bought
        active = con.execute("SELECT count(DISTINCT user_id) FROM clean.events WHERE event_date = ?",
                             [day]).fetchone()[0]
        per_user = con.execute("SELECT user_id, count(*) FROM ml.recommendations WHERE rec_date = ? "
                               "GROUP BY 1", [day]).fetchall()
        assert len(per_user) == active and {c for _, c in per_user} == {10}
        bought = con.execute(
            "SELECT count(*) FROM ml.recommendations r JOIN clean.events e ON e.user_id = r.user_id "
            "AND e.product_id = r.product_id AND e.event_type = 'purchase' AND e.event_date <= r.rec_date"
        ).fetchone()[0]
        assert bought == 0
        # users with factors are ranked by the model; the cold ones get the popularity order
        sources = dict(con.execute("SELECT user_id, any_value(source) FROM ml.recommendations "
                                   "WHERE rec_date = ? GROUP BY 1", [day]).fetchall())
        assert sources["NEW1"] == sources["NEW2"] == "popularity"
        with_factors = {r[0] for r in con.execute("SELECT user_id FROM ml.user_factors WHERE factor_date = ?",
                                                  [day]).fetchall()}
        assert {u for u, s in sources.items() if s == "svd"} == with_factors and with_factors
        cold = [r[0] for r in con.execute("SELECT product_id FROM ml.recommendations WHERE user_id = "
                                          "'NEW2' ORDER BY rank").fetchall()]
        top = [r[0] for r in con.execute(
            "SELECT product_id FROM ml.item_factors WHERE model_version = ? ORDER BY popularity_rank "
            "LIMIT 10", [version]).fetchall()]
        assert cold == top
        # every user with factors was ranked by the model
        svd_users = con.execute("SELECT count(DISTINCT user_id) FROM ml.recommendations "
                                "WHERE source = 'svd'").fetchone()[0]
        assert svd_users == len(with_factors)

    # re-running the day replaces it
    again = dg.materialize([F.user_factors, F.recommendations], partition_key=day,
                           resources=resources, instance=instance)
    assert again.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ml.recommendations").fetchone()[0] == active * 10
