"""Collaborative factors and recommendations, the Dagster side: the model asset ``svd_model``
(the evaluation protocol of recommenders.py picks a family — SVD, implicit's ALS or BM25
item-item — and a buy-again blend, against three baselines; the SVD is always fitted too, for
user_factors), each day's active users folded into the SVD (``user_factors``, daily), and
top-N recommendations for every profiled user (``recommendations``, daily). The model —
weighting, matrix, SVD and fold-in, ranking, metrics, promotion rule and artifact — is plain
Python in factorization.py; the assets read, call it, write and report.

Fits and scoring run outside the warehouse connection: data are read, the connection is
given back, numpy works, and results are written in a short second connection.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from dagster_duckdb import DuckDBResource
from pydantic import Field

from profiling_assets import model_assets, pictures, registry, sql
from profiling_assets import recommenders as R
from profiling_assets.factorization import (
    DEFAULT_WEIGHTS,
    LoadedModel,
    build_matrix,
    fit_svd,
    load_model,
    popularity_scores,
    promotion_decision,
    read_interactions,
    save_model,
    weight_params,
)
from profiling_assets.metadata import day_logger, days_label, preview_file, table_value
from profiling_assets.model_assets import model_asset
from profiling_assets.partitions import daily_asset
from profiling_assets.resources import ModelRegistryResource, replace_partition
from profiling_assets.signals import data_signals

MODEL_NAME = "svd_model"
# The lift over plain popularity the model aims for on demo data (a warning check; promotion
# needs to beat the strongest baseline and clear the recall floor).
GOAL_LIFT = 2.0
# A new version may not fall below the production version's hold-out recall@10 by more.
REGRESSION_TOLERANCE = 0.02


# --------------------------------------------------------------------------- svd_model


DEFAULT_FAMILIES = list(R.FAMILIES)


class SvdModelConfig(dg.Config):
    window_days: int = Field(28, description="first step of the adaptive training window (days)")
    max_window_days: int = Field(365, description="cap of the adaptive training window (days)")
    horizon_days: int = Field(14, description="evaluation horizon in days (shortened on a short history)")
    history_days: int = Field(365, description="buy-again lookback (days)")
    k: int = Field(32, description="latent factors of SVD and ALS (capped below the items)")
    half_life_days: float = Field(14.0, description="recency decay: an event's weight halves every this many days")
    weights: dict[str, float] = Field(
        DEFAULT_WEIGHTS, description='weight per event type (unknown key: error); a review weighs '
        'weights["review"] * (rating - 3) / 2')  # pydantic copies the default per instance
    min_item_users: int = Field(2, description="items with fewer users than this stay out of the model")
    families: list[str] = Field(DEFAULT_FAMILIES, description="candidate model families")  # copied per instance
    als_iterations: int = Field(15, description="ALS iterations")
    als_regularization: float = Field(0.05, description="ALS regularization")
    als_alpha: float = Field(10.0, description="ALS confidence scaling alpha")
    knn_neighbours: int = Field(100, description="item-item (BM25 item_knn) neighbours per item")
    rerank: bool = Field(True, description="also evaluate the learnt per-user blend (re-ranker)")
    min_recall_at_10: float = Field(0.02, description="promotion floor on the evaluation's recall@10 (0..1)")
    n_iter: int = Field(7, description="power iterations of the randomized SVD")
    threads: int = Field(0, description="implicit's threads; 0: min(cores, 4)")
    seed: int = Field(0, description="random seed")


def protocol_params(config: SvdModelConfig) -> R.Params:
    weights = {**DEFAULT_WEIGHTS, **config.weights}
    weight_params(weights, config.half_life_days)  # fail fast on a bad config
    unknown = set(config.families) - set(R.FAMILIES)
    if unknown or not config.families:
        raise dg.Failure(f"families must be some of {list(R.FAMILIES)}; got {config.families}")
    if config.horizon_days < 1 or config.window_days < 1 or config.max_window_days < config.window_days:
        raise dg.Failure("horizon_days and window_days must be >= 1, max_window_days >= window_days")
    return R.Params(
        weights=weights, half_life_days=config.half_life_days, horizon_days=config.horizon_days,
        window_days=config.window_days, max_window_days=config.max_window_days,
        history_days=config.history_days, min_item_users=config.min_item_users, k=config.k,
        n_iter=config.n_iter, als_iterations=config.als_iterations,
        als_regularization=config.als_regularization, als_alpha=config.als_alpha,
        knn_neighbours=config.knn_neighbours, families=tuple(config.families), rerank=config.rerank,
        threads=config.threads, seed=config.seed)


CHECKS = ("beats_strongest_baseline", "lift_goal")


def _blend_label(outcome: R.Outcome, n: int) -> str:
    if outcome.winner == R.RERANKED:
        rr = outcome.inner.rerank
        return (f"per user: a classifier ranks the bought items, {rr.family}'s top {rr.model_candidates} "
                f"unseen and the {rr.popular_candidates} most popular (learnt on the inner split)")
    return (f"{outcome.slots} of {n} places buy-again, then "
            f"{'the model' if outcome.tail == R.TAIL_MODEL else 'popularity'} (learnt on the inner split)")


@model_asset(
    # the table it writes beside its registry version: the SVD's item factors
    table="ml.item_factors",
    deps=["cleaned_events"],
    group_name="factors",
    kinds={"scikitlearn", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("beats_strongest_baseline", asset="svd_model", blocking=True,
                          description="On the time-split evaluation, the winning recommender's "
                          "recall@10 clears the floor and beats the strongest of popularity of "
                          "unseen items, plain popularity and buy-again; promoted only then."),
        dg.AssetCheckSpec("lift_goal", asset="svd_model",
                          description=f"recall@10 is at least {GOAL_LIFT}x plain popularity's and "
                          "above buy-again's (the goal on demo data; a warning when missed)."),
    ],
)
def svd_model(context: dg.AssetExecutionContext, config: SvdModelConfig, warehouse: DuckDBResource,
              model_registry: ModelRegistryResource):
    """The collaborative recommender. Runs the evaluation protocol of recommenders.py (time
    split with an inner split for the buy-again blend, an adaptive window, the families svd /
    als / item_knn against three baselines), then fits the winning family and the SVD on the
    chosen window ending at the latest day: a registry version (candidate; promoted when
    beats_strongest_baseline passes) and ml.item_factors rows of the SVD. Too short a history
    is a skip with its reason, not a crash."""
    params = protocol_params(config)
    started = time.perf_counter()
    try:
        with warehouse.get_connection() as con:
            data = R.read_protocol(con, params, log=context.log.info)
            plan = data.plan
            first = max(plan.first_day, plan.last_day - timedelta(days=plan.window - 1))
            full = read_interactions(con, first, plan.last_day, weights=params.weights,
                                     half_life_days=params.half_life_days)
            signals = data_signals(con, first, plan.last_day)
            per_day = sql.query(con, "select_window_daily_interactions", first_day=first,
                                last_day=plan.last_day)
        outcome = R.run_protocol(data, params, log=context.log.info)
    except R.NotEnoughHistory as exc:
        # the daily recommendations use the baseline fallback meanwhile
        yield from model_assets.skipped(context, f"not trained: {exc}", CHECKS)
        return
    eval_seconds = time.perf_counter() - started
    M = outcome.metrics
    context.log.info(f"Evaluation: winner {outcome.winner} recall@10 {M['recall_at_10']:.4f}; "
                     f"strongest baseline {outcome.strongest_baseline} "
                     f"{M['strongest_baseline_recall_at_10']:.4f} ({eval_seconds:.1f} s)")

    started = time.perf_counter()
    m = build_matrix(full, min_item_users=config.min_item_users)
    if m.X.shape[0] < 2 or m.X.shape[1] < 2:
        raise dg.Failure(f"{plan.window}-day window {first}..{plan.last_day}: {m.X.shape[0]} users x "
                         f"{m.X.shape[1]} items, too few to fit (the evaluation had enough)")
    factors = fit_svd(m.X, config.k, items=m.items, seed=config.seed, n_iter=config.n_iter)
    reranker = None
    scorer_family = outcome.winner
    if outcome.winner == R.RERANKED:
        # the evaluated re-ranker's settings, refitted on the newest labelled candidates (the
        # outer split's), as the families are refitted on the window ending at the latest day
        reranker = R.refit_reranker(outcome.inner.rerank, *outcome.outer.rerank_train, params)
        scorer_family = reranker.family
    scorer = (R.SvdScorer(factors) if scorer_family == "svd"
              else R.fit_family(scorer_family, m.X, m.items, params))
    fit_seconds = time.perf_counter() - started
    explained = float((factors.singular_values ** 2).sum() / max(m.X.power(2).sum(), 1e-12))
    popularity = popularity_scores(m.purchased, m.X)

    settings = {"family": outcome.winner, "window_days": plan.window, "window_start": first,
                "window_end": plan.last_day, "window_reason": plan.window_reason,
                "weights": params.weights, "half_life_days": params.half_life_days,
                "history_days": params.history_days, "buy_again_half_life": params.buy_again_half_life,
                "blend": {"buy_again_slots": outcome.slots, "tail": outcome.tail, "n": params.n,
                          "reorder_share": M["reorder_share"]},
                "rerank": ({"family": reranker.family, "features": list(reranker.features),
                            "model_candidates": reranker.model_candidates,
                            "popular_candidates": reranker.popular_candidates,
                            "half_lives": list(reranker.half_lives),
                            "classifier": type(reranker.model).__name__,
                            "trained_on": "the outer split's candidates (labels: its horizon)",
                            "importances": reranker.importances} if reranker else None),
                "als": {"regularization": params.als_regularization, "alpha": params.als_alpha,
                        "iterations": params.als_iterations, "threads": params.num_threads},
                "item_knn": {"neighbours": params.knn_neighbours, "weighting": "BM25"},
                "scaling": "log1p(max(sum of decayed weights, 0))",
                "decay": "weight * 0.5 ** (days before window_end / half_life_days)",
                "review": "weights['review'] * (rating - 3) / 2", "k": factors.k,
                "min_item_users": config.min_item_users}
    holder: dict[str, pd.DataFrame] = {}

    def write(folder: Path) -> None:
        holder["items"] = save_model(folder, m, factors, popularity, settings, scorer, reranker)

    version, path = model_assets.write_version(model_registry, MODEL_NAME, write)
    items = holder["items"]
    metrics = {**M, "family": outcome.winner, "train_users": len(m.users), "train_items": len(m.items),
               "items_below_min_users": m.dropped_items, "nonzeros": int(m.X.nnz),
               "k": factors.k, "explained_energy": explained, "fit_seconds": fit_seconds,
               "eval_seconds": eval_seconds, "window_reason": plan.window_reason,
               "evaluated_model": "fit on the window before eval_split_day; saved model refitted "
                                  "on the window ending at the latest day"}
    passed, why = promotion_decision(M, config.min_recall_at_10)
    gate = model_assets.Gate("beats_strongest_baseline", passed, why, metadata={
        "recall_at_10": M["recall_at_10"], "winner": outcome.winner,
        "strongest_baseline": outcome.strongest_baseline,
        "strongest_baseline_recall_at_10": M["strongest_baseline_recall_at_10"],
        "floor": config.min_recall_at_10})
    item_rows = pa.table({
        "product_id": items["product_id"].to_numpy(), "item_index": items["item_index"].to_numpy(),
        "factors": pa.FixedSizeListArray.from_arrays(
            pa.array(factors.item_factors.astype(np.float32).ravel()), factors.k),
        "users": items["users"].to_numpy(), "purchasers": items["purchasers"].to_numpy(),
        "popularity_rank": items["popularity_rank"].to_numpy()})

    def write_item_factors(con: duckdb.DuckDBPyConnection) -> None:
        replace_partition(con, "item_factors", rows=item_rows, by="version", version=version)

    with warehouse.get_connection() as con:
        verdict = model_assets.conclude(
            context, con, MODEL_NAME, version, path, metrics=metrics,
            config=config.model_dump() | {"weights": params.weights, "k_used": factors.k},
            window=(first, plan.last_day), gates=[gate],
            guard=model_assets.Guard("recall_at_10", M["recall_at_10"], REGRESSION_TOLERANCE),
            write_rows=write_item_factors,
            fallback=(f"the daily recommendations use the strongest baseline "
                      f"({outcome.strongest_baseline}) until a version is promoted"))

    lifts = {f"lift_over_{b}": M[f"lift_over_{b}"] for b in R.BASELINES}
    scored = outcome.scored()
    yield dg.MaterializeResult(metadata={
        **verdict.metadata(),
        **signals.metadata(),
        "winner": outcome.winner,
        "training_window": f"{first}..{plan.last_day} ({plan.window} days)",
        "window_chosen": plan.window_reason,
        "window_steps": table_value(
            ["days", "users", "pairs", "items", "users per item"], plan.window_stats,
            types={"users per item": "float"}),
        "eval_split": (f"outer: train before {plan.outer_cutoff}, truth {plan.outer_cutoff}..{plan.last_day}; "
                       f"inner: train before {plan.inner_cutoff}, truth {plan.horizon} days from it"),
        # the protocol's table holds its figures as text for printing: numbers here
        "evaluation": table_value(
            R.TABLE_HEADER, [[label, *map(float, figures)] for label, *figures in outcome.table],
            types=dict.fromkeys(R.TABLE_HEADER[1:], "float")),
        "recall_at_10": dg.MetadataValue.float(M["recall_at_10"]),
        "ndcg_at_10": dg.MetadataValue.float(M["ndcg_at_10"]),
        "hit_rate_at_10": dg.MetadataValue.float(M["hit_rate_at_10"]),
        "coverage_at_10": dg.MetadataValue.float(M["coverage_at_10"]),
        "strongest_baseline": outcome.strongest_baseline,
        "strongest_baseline_recall_at_10": dg.MetadataValue.float(M["strongest_baseline_recall_at_10"]),
        "lift_over_strongest_baseline": dg.MetadataValue.float(M["lift_over_strongest_baseline"]),
        "recall_gain_over_strongest": (
            f"{M['recall_gain_over_strongest']:+.4f} ({R.BOOTSTRAP_LEVEL:.0%} paired bootstrap over users: "
            f"{M['recall_gain_ci_low']:+.4f}..{M['recall_gain_ci_high']:+.4f})"
            if "recall_gain_ci_low" in M else "not computed"),
        **{k: dg.MetadataValue.float(v) for k, v in lifts.items()},
        "reorder_share": dg.MetadataValue.float(M["reorder_share"]),
        "blend": _blend_label(outcome, params.n),
        "eval_users": M["eval_users"], "inner_eval_users": M["inner_eval_users"],
        **({"reranker_importances": table_value(
            ["feature", "permutation importance (drop in average precision)"],
            sorted(outcome.inner.rerank.importances.items(), key=lambda kv: -kv[1]),
            types={"permutation importance (drop in average precision)": "float"})}
           if outcome.inner.rerank is not None else {}),
        "dagster/row_count": len(m.items),
        "users": len(m.users), "items": len(m.items), "nonzeros": int(m.X.nnz),
        "items_below_min_users": m.dropped_items, "k": factors.k,
        "explained_energy": dg.MetadataValue.float(explained),
        "fit_seconds": round(fit_seconds, 2), "eval_seconds": round(eval_seconds, 2),
        "weighting": dg.MetadataValue.json(json.loads(json.dumps(settings, default=str))),
        "recommenders_plot": pictures.bar_chart(
            [f"{name} ({role})" for name, role, *_ in scored],
            {"recall@10": [r[2] for r in scored], "NDCG@10": [r[3] for r in scored]},
            "svd_model: recall@10 and NDCG@10 of each recommender on the evaluation split"),
        **{f"{name}_{metric}_at_10": dg.MetadataValue.float(value) for name, _, *values in scored
           for metric, value in zip(("recall", "ndcg"), values, strict=True)},
        "window_plot": pictures.line_chart(
            {label: ([r[0] for r in per_day], [r[i] for r in per_day]) for i, label in
             enumerate(("product events", "users", "(user, item) pairs"), start=1)},
            f"svd_model: interactions per day of the training window ({plan.window} days)",
            ylabel="per day", from_zero=True,
            vlines={"outer split (evaluation truth from)": plan.outer_cutoff,
                    "inner split": plan.inner_cutoff}),
        "window_days": plan.window,
        "window_events": sum(r[1] for r in per_day),
    })
    yield from verdict.check_results()
    goal = M["lift_over_popularity"] >= GOAL_LIFT and M["lift_over_buy_again"] > 1.0
    yield dg.AssetCheckResult(
        check_name="lift_goal", passed=goal, severity=dg.AssetCheckSeverity.WARN,
        metadata={"lift_over_popularity": M["lift_over_popularity"],
                  "lift_over_buy_again": M["lift_over_buy_again"], "goal": GOAL_LIFT})


# --------------------------------------------------------------------------- daily assets


def _model_window(model: LoadedModel, day: date) -> tuple[date, date]:
    return day - timedelta(days=model.window_days - 1), day


class UserFactorsConfig(dg.Config):
    events_per_pass: int = Field(10_000_000, gt=0, description=(
        "events of the model's window read at once; a larger window is read in passes over "
        "disjoint groups of users, so memory follows this, not the window"))


@daily_asset(
    table="ml.user_factors",
    deps=["svd_model", "cleaned_events"],
    group_name="factors",
    kinds={"numpy", "duckdb"},
)
def user_factors(context: dg.AssetExecutionContext, config: UserFactorsConfig,
                 warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.user_factors: factors of the day's active users, folded into the production
    svd_model without refitting: u = r_u V diag(1/sigma), where r_u is the user's weighted row
    (the model's weights, decay and log1p) over the model's window length ending on the
    partition day. Items the model has no factors for are left out of r_u and counted; a user
    with no known item gets no row (recommendations gives them the popularity fallback)."""
    days = list(context.partition_keys)
    skipped = registry.skip_without_production(context, warehouse, MODEL_NAME, days)
    if skipped:
        return skipped
    log = day_logger(context, days)
    per_day = []
    version = None
    for key in days:
        day = date.fromisoformat(key)
        with warehouse.get_connection() as con:
            model = load_model(registry.require_production(con, MODEL_NAME))
            version = model.version
            first, _ = _model_window(model, day)
            active = len(sql.query(con, "select_factor_active_users", day=day))
            (events,) = sql.query(con, "count_window_events", first_day=first, last_day=day)[0]
        # each user's row is folded in alone: a long or busy window is read in passes over
        # disjoint groups of users (at 10M events a day, 4 days held 4.5 GiB in one)
        passes = max(1, -(-events // config.events_per_pass))
        parts, new_items = [], set()
        for part in range(passes):
            with warehouse.get_connection() as con:
                df = read_interactions(con, first, day, weights=model.weights,
                                       half_life_days=model.half_life_days, users_day=day,
                                       passes=passes, part=part)
            m = build_matrix(df, items=model.factors.items)
            del df
            U = model.factors.fold_in(m.X)
            parts.append(pa.table({
                "user_id": pa.array(m.users, pa.string()),
                "factors": pa.FixedSizeListArray.from_arrays(
                    pa.array(U.astype(np.float32).ravel()), model.factors.k),
                "known_items": np.diff(m.X.indptr).astype(np.int32),
                "unknown_items": m.unknown_items.astype(np.int32)}))
            new_items.update(m.dropped)
        rows = pa.concat_tables(parts)
        folded, new_items = rows.num_rows, len(new_items)
        with warehouse.get_connection() as con:
            replace_partition(con, "user_factors", rows=rows, day=day, version=version,
                              now=datetime.now(UTC).replace(tzinfo=None))
        cold = active - folded
        per_day.append([key, active, folded, cold, new_items])
        passed = f", window read in {passes} passes" if passes > 1 else ""
        log(key, f"{folded:,} of {active:,} active users folded in "
                 f"({cold:,} without known items); {new_items:,} items new to {version}{passed}")
    with warehouse.get_connection() as con:
        preview = preview_file(con, "preview_user_factors", day=days[-1])
    last = per_day[-1]
    return dg.MaterializeResult(metadata={
        "days": days_label(days),
        "model_version": version,
        "dagster/row_count": sum(r[2] for r in per_day),
        "active_users": last[1], "users_with_factors": last[2], "window_passes": passes,
        "users_without_known_items": last[3], "items_unknown_to_model": last[4],
        "per_day": table_value(
            ["day", "active users", "with factors", "no known items (cold)", "items new to model"],
            per_day),
        "preview": preview,
    })


class RecommendationsConfig(dg.Config):
    n: int = Field(10, description="recommendations per user per day")


# Without any evaluated version: the baseline the protocol most often finds strongest on
# purchase logs, and the first step of the adaptive window.
FALLBACK_BASELINE, FALLBACK_WINDOW_DAYS = "buy_again", 28


def _fallback_policy(con: duckdb.DuckDBPyConnection) -> tuple[str, int, str]:
    """(baseline, window days, why) from the latest evaluated version, if any."""
    for v in registry.versions(con, MODEL_NAME):
        if v.metrics.get("strongest_baseline") in R.BASELINES:
            return (v.metrics["strongest_baseline"], int(v.metrics.get("window_days", FALLBACK_WINDOW_DAYS)),
                    f"the strongest baseline of {v.version}'s evaluation")
    return FALLBACK_BASELINE, FALLBACK_WINDOW_DAYS, "no evaluation yet: buy-again, then popularity"


def _recommendation_rows(pop: R.Population, lists: R.Lists, n: int) -> tuple[pa.Table, np.ndarray]:
    """The day's rows (user_id, rank, product_id, score, source) in (user, place) order, and
    the row count per source (R.SOURCES order). Ids are taken from Arrow arrays of the users,
    items and sources, not converted one string at a time."""
    r, c = np.nonzero(lists.idx >= 0)
    src = lists.src[r, c]
    recs = pa.table({
        "user_id": pa.array(pop.users, type=pa.string()).take(r),
        "rank": (c + 1).astype(np.int32),
        "product_id": pa.array(np.asarray(pop.catalogue, dtype=object), type=pa.string()).take(lists.idx[r, c]),
        "score": (n - c).astype(np.float64),
        "source": pa.array(R.SOURCES, type=pa.string()).take(src)})
    return recs, np.bincount(src, minlength=len(R.SOURCES))


def _read_rerank_inputs(warehouse: DuckDBResource, first: date, day: date
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warehouse.get_connection() as con:
        return R.read_rerank_inputs(con, first, day, users_day=day)


@daily_asset(
    table="ml.recommendations",
    deps=["svd_model", "cleaned_events", "user_features"],
    group_name="factors",
    kinds={"numpy", "duckdb"},
)
def recommendations(context: dg.AssetExecutionContext, config: RecommendationsConfig,
                    warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.recommendations: the top n items for every user of the day's profile window
    (features.user_features of the day, plus the day's active users), fresh every day.

    With a production svd_model: its learnt blend — the user's buy-again items (recency-weighted
    purchases over history_days) in the first places, then the winning family's unseen items
    scored from the user's row over the model's window ending on the day (source = the family:
    svd, als or item_knn); users the model cannot score get popularity of unseen items
    (source 'popularity'). When the production version is the re-ranker, each user's
    candidates (bought items, the family's top unseen, the most popular) get their features as
    of the day and the saved classifier ranks them, in batches of users. Without one the run still succeeds: the strongest baseline of the
    latest evaluation (buy-again then popularity if none ran) is computed from the warehouse,
    with ``fallback`` in the metadata and a warning."""
    days = list(context.partition_keys)
    log = day_logger(context, days)
    per_day = []
    version = fallback = None
    for key in days:
        day = date.fromisoformat(key)
        with ThreadPoolExecutor(1) as reader:
            with warehouse.get_connection() as con:
                prod = registry.production(con, MODEL_NAME)
                model = load_model(prod) if prod is not None else None
                if model is None:
                    baseline, window_days, why = _fallback_policy(con)
                    fallback = f"{baseline} ({why}); {registry.why_no_production(con, MODEL_NAME)}"
                    weights, half_life = DEFAULT_WEIGHTS, 14.0
                    history_days, ba_half_life = 365, R.BUY_AGAIN_HALF_LIFE
                else:
                    window_days, weights, half_life = model.window_days, model.weights, model.half_life_days
                    history_days, ba_half_life = model.history_days, model.buy_again_half_life
                rerank = None
                if model is not None and model.reranker is not None:
                    # features as of the day (purchases up to and including it), read on a
                    # connection of its own while the rest is read and the population built
                    rerank = reader.submit(_read_rerank_inputs, warehouse,
                                           day - timedelta(days=history_days - 1), day)
                users = R.read_frame(con, "select_recommend_users", day=day)
                inter = R.read_recommend_interactions(con, day - timedelta(days=window_days - 1), day,
                                                      weights=weights, half_life_days=half_life,
                                                      users_day=day)
                bought = R.read_purchases(con, day - timedelta(days=history_days - 1), day, ba_half_life,
                                          users_day=day)
            version = model.version if model else "none"
            if model is None:
                context.log.warning(f"{key}: no production {MODEL_NAME}: recommendations by {fallback}")
                pop, lists = R.recommend(users["user_id"], inter, bought, n=config.n, baseline=baseline)
            else:
                pop, lists = R.recommend(users["user_id"], inter, bought, n=config.n, scorer=model.scorer,
                                         slots=model.buy_again_slots, tail=model.blend_tail,
                                         reranker=model.reranker,
                                         rerank_read=rerank.result if rerank is not None else None)
        recs, counts = _recommendation_rows(pop, lists, config.n)
        with warehouse.get_connection() as con:
            replace_partition(con, "recommendations", rows=recs, day=day, version=version,
                              now=datetime.now(UTC).replace(tzinfo=None))
        short = int((np.count_nonzero(lists.idx >= 0, axis=1) < config.n).sum())
        per_day.append([key, len(pop.users), int(users["profiled"].sum()), len(recs),
                        *(int(k) for k in counts), short])
        log(key, f"{len(recs):,} recommendations for {len(pop.users):,} users "
                 f"({'fallback ' + baseline if model is None else model.family})")
    with warehouse.get_connection() as con:
        preview = preview_file(con, "preview_recommendations", day=days[-1])
    last = per_day[-1]
    meta = {
        "days": days_label(days),
        "model_version": version,
        "policy": (f"fallback: {baseline}" if model is None else
                   f"{model.family}: a classifier ranks each user's bought items, "
                   f"{model.reranker.family}'s top {model.reranker.model_candidates} unseen and the "
                   f"{model.reranker.popular_candidates} most popular" if model.reranker is not None else
                   f"{model.family}: buy-again {model.buy_again_slots} of {config.n} places, then "
                   f"{'the model' if model.blend_tail == R.TAIL_MODEL else 'popularity'}"),
        "dagster/row_count": sum(r[3] for r in per_day),
        "users": last[1], "profiled_users": last[2], "users_with_fewer_than_n": last[-1],
        **{f"rows_{s}": last[4 + i] for i, s in enumerate(R.SOURCES)},
        "per_day": table_value(["day", "users", "profiled", "rows", *R.SOURCES, "fewer than n"],
                               per_day),
        "preview": preview,
    }
    if fallback:
        meta["fallback"] = fallback
    return dg.MaterializeResult(metadata=meta)
