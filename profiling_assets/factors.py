"""Collaborative factors: a truncated SVD of the implicit-feedback user x item matrix (model
asset), each day's active users folded into it (daily), and top-N recommendations (daily).

Weighting (the same for fitting, evaluation and fold-in): every event on a product weighs
by its type (view 1, cart 3, purchase 5, review by its rating from -w to +w, return -5 by
default), halved every ``half_life_days`` before the reference day, and summed per
(user, item); a cell is ``log1p(max(sum, 0))``, so a returned purchase cancels out and heavy
browsing does not drown a purchase.

Fold-in: with X ~ U diag(sigma) V^T, a user's factors are u = r_u V diag(1/sigma), where r_u
is the user's weighted row; for a user of the training matrix this is exactly the fitted row
of U. Scores are u diag(sigma) V^T = r_u V V^T, the rank-k reconstruction of the row.

The SVD and scoring run outside the warehouse connection: data are read, the connection is
given back, numpy works, and results are written in a short second connection.
"""

import json
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from dagster_duckdb import DuckDBResource
from sklearn.decomposition import TruncatedSVD

from profiling_assets import registry, sql
from profiling_assets.metadata import day_logger, days_label, markdown_table, preview_file
from profiling_assets.partitions import daily_backfill_policy, daily_partitions
from profiling_assets.resources import transaction

MODEL_NAME = "svd_model"
EVAL_K = 10
DEFAULT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0, "review": 2.0, "return": -5.0}
# The lift over popularity the model aims for on demo data (a warning check; promotion only
# needs to beat popularity and clear the recall floor).
GOAL_LIFT = 2.0
# A new version may not fall below the production version's hold-out recall@10 by more.
REGRESSION_TOLERANCE = 0.02
# Dense scores held at once (users x items cells): bounds the memory of scoring whatever the
# catalogue size.
SCORE_CELLS = 5_000_000  # ~20 MB of float32 scores, ~40 MB of argpartition indices


# --------------------------------------------------------------------------- weighting


def weight_params(weights: dict[str, float], half_life_days: float) -> dict[str, float]:
    """The $w_* parameters of select_factor_interactions; unknown event types are an error
    (a typo would otherwise silently weigh an event type 0)."""
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown event types in weights: {sorted(unknown)}; "
                         f"known: {sorted(DEFAULT_WEIGHTS)}")
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    merged = {**DEFAULT_WEIGHTS, **weights}
    return {f"w_{k}": float(v) for k, v in merged.items()} | {"half_life_days": float(half_life_days)}


def read_interactions(con: duckdb.DuckDBPyConnection, first_day: date, last_day: date, *,
                      weights: dict[str, float], half_life_days: float,
                      users_day: date | None = None) -> pd.DataFrame:
    """(user_id, product_id, weight, purchases, last_date) over first_day..last_day, decayed
    towards last_day."""
    return sql.run(con, "select_factor_interactions", first_day=first_day, last_day=last_day,
                   ref_day=last_day, users_day=users_day,
                   **weight_params(weights, half_life_days)).df()


def scale(weight: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(weight, dtype=np.float64), 0.0, None))


@dataclass
class Matrix:
    users: np.ndarray          # row -> user id
    items: np.ndarray          # column -> product id
    X: sp.csr_matrix           # scaled weights
    purchased: sp.csr_matrix   # bool: the user bought the item in the window
    unknown_items: np.ndarray  # per row: distinct items of the user outside ``items``
    dropped_items: int         # distinct items left out (too few users, or unknown to a model)


def build_matrix(df: pd.DataFrame, *, items: np.ndarray | None = None,
                 min_item_users: int = 1) -> Matrix:
    """The user x item matrix of an interactions frame. Without ``items`` the columns are the
    items with positive weight from at least ``min_item_users`` users; with ``items`` (a
    fitted model's map) the columns are exactly those and other items are counted, not used.
    Rows: users with at least one positive cell among the columns."""
    df = df.assign(value=scale(df["weight"].to_numpy()))
    if items is None:
        positive = df[df["value"] > 0]
        counts = positive.groupby("product_id")["user_id"].nunique()
        items = np.sort(counts.index[counts >= min_item_users].to_numpy().astype(str))
    col_of = pd.Index(items)
    col = col_of.get_indexer(df["product_id"])
    known = col >= 0
    unknown_per_user = df.loc[~known].groupby("user_id")["product_id"].nunique()
    dropped = int(df.loc[~known, "product_id"].nunique())
    # purchases with no net weight (returned) stay for the exclusion rule, not in X
    mask = known & ((df["value"] > 0).to_numpy() | (df["purchases"] > 0).to_numpy())
    kept = df[mask].assign(col=col[mask])
    has_signal = kept.groupby("user_id")["value"].max() > 0
    users = np.sort(has_signal.index[has_signal.to_numpy()].to_numpy().astype(str))
    row = pd.Index(users).get_indexer(kept["user_id"])
    kept, row = kept[row >= 0], row[row >= 0]
    shape = (len(users), len(items))
    X = sp.csr_matrix((kept["value"].to_numpy(), (row, kept["col"].to_numpy())), shape=shape)
    X.eliminate_zeros()
    bought = (kept["purchases"] > 0).to_numpy()
    P = sp.csr_matrix((np.ones(bought.sum(), dtype=bool), (row[bought], kept["col"].to_numpy()[bought])),
                      shape=shape)
    unknown = unknown_per_user.reindex(users, fill_value=0).to_numpy()
    return Matrix(users, np.asarray(items), X, P, unknown, dropped)


# --------------------------------------------------------------------------- model


@dataclass
class SvdFactors:
    items: np.ndarray            # column -> product id
    item_factors: np.ndarray     # V: items x k
    singular_values: np.ndarray  # sigma: k, descending, all > 0

    @property
    def k(self) -> int:
        return len(self.singular_values)

    def fold_in(self, R: sp.spmatrix) -> np.ndarray:
        """u = r_u V diag(1/sigma) for every row of R (columns = ``items``)."""
        return np.asarray(R @ self.item_factors) / self.singular_values

    def scores(self, U: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Predicted (scaled) weights u diag(sigma) V^T; ranking asks for float32, which
        halves the memory traffic of the users x items block."""
        V = self.item_factors if dtype is np.float64 else self._item_factors32
        return (U * self.singular_values).astype(dtype) @ V.T

    @cached_property
    def _item_factors32(self) -> np.ndarray:
        return self.item_factors.astype(np.float32)


def fit_svd(X: sp.csr_matrix, k: int, *, items: np.ndarray | None = None, seed: int = 0,
            n_iter: int = 7) -> SvdFactors:
    """Randomized truncated SVD; k is capped below the matrix's smaller side (TruncatedSVD
    needs k < items) and numerically null components are dropped (1/sigma in the fold-in)."""
    k_eff = max(1, min(k, X.shape[1] - 1, X.shape[0] - 1))
    svd = TruncatedSVD(n_components=k_eff, algorithm="randomized", n_iter=n_iter, random_state=seed)
    svd.fit(X)
    sigma = svd.singular_values_
    keep = sigma > sigma.max() * 1e-9
    # sklearn does not promise descending order for every solver; sort for stable metadata
    order = np.argsort(-sigma[keep], kind="stable")
    V = svd.components_[keep][order].T.astype(np.float64)
    items = np.arange(X.shape[1]) if items is None else np.asarray(items)
    return SvdFactors(items, V, sigma[keep][order])


def top_n(score_rows, exclude: sp.csr_matrix, n: int, *, batch: int | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the n best columns per row, never an excluded (row, column);
    where fewer than n columns remain the tail is -1 / -inf. ``score_rows(lo, hi)`` returns
    the dense scores of rows lo..hi-1, so memory stays at batch x columns."""
    rows = exclude.shape[0]
    batch = batch or max(1, SCORE_CELLS // max(1, exclude.shape[1]))
    idx = np.full((rows, n), -1, dtype=np.int64)
    val = np.full((rows, n), -np.inf)
    for lo in range(0, rows, batch):
        hi = min(rows, lo + batch)
        s = np.asarray(score_rows(lo, hi))
        if s.base is not None or not s.flags.writeable:  # never write into the caller's array
            s = s.copy()
        ex = exclude[lo:hi].tocoo()
        s[ex.row, ex.col] = -np.inf
        m = min(n, s.shape[1])
        # argpartition of the whole block is the cost of ranking: one pass, no negated copy
        part = np.argpartition(s, s.shape[1] - m, axis=1)[:, -m:]
        ps = np.take_along_axis(s, part, 1).astype(np.float64)
        order = np.lexsort((part, -ps), axis=1)  # best first; ties by column for determinism
        best = np.take_along_axis(part, order, 1)
        bv = np.take_along_axis(ps, order, 1)
        best[~np.isfinite(bv)] = -1
        idx[lo:hi, :m], val[lo:hi, :m] = best, bv
    return idx, val


def svd_or_popularity(factors: SvdFactors, U: np.ndarray, warm: np.ndarray,
                      popularity: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """Scores for top_n: the SVD reconstruction for rows with factors (warm), popularity for
    the rest (cold start)."""
    def rows(lo: int, hi: int) -> np.ndarray:
        return np.where(warm[lo:hi, None], factors.scores(U[lo:hi], np.float32),
                        popularity[None, :].astype(np.float32))
    return rows


def popularity_scores(purchased: sp.csr_matrix, X: sp.csr_matrix) -> np.ndarray:
    """Distinct buyers per item, with total scaled weight as a small tie-breaker."""
    buyers = np.asarray(purchased.sum(axis=0)).ravel().astype(np.float64)
    weight = np.asarray(X.sum(axis=0)).ravel()
    return buyers + weight / (weight.max() + 1.0) * 0.5


# --------------------------------------------------------------------------- evaluation


def ranking_metrics(recs: Sequence[Sequence[Hashable]], relevant: Sequence[set], k: int = EVAL_K
                    ) -> dict[str, float]:
    """Mean recall@k (hits / relevant items) and NDCG@k (binary gains, ideal = min(relevant,
    k) hits at the top) over users with at least one relevant item."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs = [], []
    for rec, rel in zip(recs, relevant, strict=True):
        if not rel:
            continue
        hits = np.array([item in rel for item in list(rec)[:k]], dtype=bool)
        recalls.append(hits.sum() / len(rel))
        ndcgs.append(discounts[: len(hits)][hits].sum() / discounts[: min(len(rel), k)].sum())
    return {"recall": float(np.mean(recalls)) if recalls else 0.0,
            "ndcg": float(np.mean(ndcgs)) if ndcgs else 0.0, "users": len(recalls)}


def coverage(recs: Sequence[Sequence[Hashable]], catalogue_size: int, k: int = EVAL_K) -> float:
    """Share of the catalogue that appears in at least one user's top k."""
    seen = {item for rec in recs for item in list(rec)[:k]}
    return len(seen) / catalogue_size if catalogue_size else 0.0


@dataclass
class Evaluation:
    metrics: dict[str, float]
    table: list[list]


def holdout_evaluation(train: pd.DataFrame, test: pd.DataFrame, *, k: int, min_item_users: int,
                       seed: int, n_iter: int = 7, catalogue_size: int | None = None,
                       n: int = EVAL_K) -> Evaluation:
    """Fit on ``train`` interactions, rank for every user who bought something new in
    ``test`` (user_id, product_id), and score SVD against popularity.

    Both recommenders exclude the user's training purchases; a user the model does not know
    (no training row) gets the popularity list from the SVD recommender too, as in
    production. Relevant items are the test purchases not already bought in training; items
    outside the model still count as relevant (misses for both)."""
    m = build_matrix(train, min_item_users=min_item_users)
    factors = fit_svd(m.X, k, items=m.items, seed=seed, n_iter=n_iter)
    pop = popularity_scores(m.purchased, m.X)

    train_bought = train[train["purchases"] > 0].groupby("user_id")["product_id"].agg(set)
    relevant_by_user = {
        u: rel for u, items in test.groupby("user_id")["product_id"]
        if (rel := set(items) - train_bought.get(u, set()))}
    users = sorted(relevant_by_user)
    row_of = pd.Index(m.users)
    rows = row_of.get_indexer(users)
    warm = rows >= 0

    # Exclusions: training purchases within the model's columns, per evaluated user.
    excl = sp.csr_matrix(m.purchased[np.maximum(rows, 0)].multiply(warm[:, None]), dtype=bool)
    U = factors.fold_in(m.X[rows[warm]]) if warm.any() else np.zeros((0, factors.k))
    U_all = np.zeros((len(users), factors.k))
    U_all[warm] = U
    svd_idx, _ = top_n(svd_or_popularity(factors, U_all, warm, pop), excl, n)
    pop_idx, _ = top_n(lambda lo, hi: np.broadcast_to(pop, (hi - lo, len(pop))), excl, n)

    def as_ids(idx: np.ndarray) -> list[list[str]]:
        return [[m.items[j] for j in r if j >= 0] for r in idx]

    svd_recs, pop_recs = as_ids(svd_idx), as_ids(pop_idx)
    relevant = [relevant_by_user[u] for u in users]
    size = catalogue_size or len(m.items)
    out: dict[str, float] = {}
    table = []
    for name, recs in (("svd", svd_recs), ("popularity", pop_recs)):
        allm = ranking_metrics(recs, relevant, n)
        warm_m = ranking_metrics([r for r, w in zip(recs, warm, strict=True) if w],
                                 [r for r, w in zip(relevant, warm, strict=True) if w], n)
        cov = coverage(recs, size, n)
        out |= {f"{name}_recall_at_{n}": allm["recall"], f"{name}_ndcg_at_{n}": allm["ndcg"],
                f"{name}_coverage_at_{n}": cov, f"{name}_recall_at_{n}_known_users": warm_m["recall"]}
        table.append([name, f"{allm['recall']:.4f}", f"{allm['ndcg']:.4f}", f"{cov:.3f}",
                      f"{warm_m['recall']:.4f}"])
    pop_recall = out[f"popularity_recall_at_{n}"]
    out |= {"eval_users": len(users), "eval_users_known": int(warm.sum()),
            "eval_relevant_items": int(sum(len(r) for r in relevant)),
            "eval_model_items": len(m.items), "eval_model_users": len(m.users), "eval_k": factors.k,
            "lift_over_popularity": out[f"svd_recall_at_{n}"] / pop_recall if pop_recall else float("inf")}
    return Evaluation(out, table)


# --------------------------------------------------------------------------- artifact


@dataclass
class LoadedModel:
    version: str
    factors: SvdFactors
    popularity: np.ndarray  # per item (column): the fallback's score
    window_days: int
    weights: dict[str, float]
    half_life_days: float


def save_model(folder: Path, m: Matrix, factors: SvdFactors, popularity: np.ndarray,
               settings: dict) -> pd.DataFrame:
    """Write the version folder; returns the item table (also written to ml.item_factors)."""
    np.savez(folder / "factors.npz", item_factors=factors.item_factors.astype(np.float32),
             singular_values=factors.singular_values)
    rank = np.empty(len(popularity), dtype=np.int32)
    rank[np.lexsort((m.items, -popularity))] = np.arange(1, len(popularity) + 1)
    items = pd.DataFrame({
        "item_index": np.arange(len(m.items), dtype=np.int32), "product_id": m.items,
        "users": np.diff(m.X.tocsc().indptr).astype(np.int32),
        "purchasers": np.asarray(m.purchased.sum(axis=0)).ravel().astype(np.int32),
        "popularity": popularity, "popularity_rank": rank})
    items.to_parquet(folder / "items.parquet", index=False)
    pd.DataFrame({"user_index": np.arange(len(m.users), dtype=np.int32), "user_id": m.users}
                 ).to_parquet(folder / "users.parquet", index=False)
    (folder / "weighting.json").write_text(json.dumps(settings, indent=2, default=str))
    return items


def load_model(version: registry.ModelVersion) -> LoadedModel:
    path = version.artifact_path
    with np.load(path / "factors.npz") as z:
        V, sigma = z["item_factors"].astype(np.float64), z["singular_values"]
    items = pd.read_parquet(path / "items.parquet").sort_values("item_index")
    settings = json.loads((path / "weighting.json").read_text())
    return LoadedModel(version.version, SvdFactors(items["product_id"].to_numpy().astype(str), V, sigma),
                       items["popularity"].to_numpy(), int(settings["window_days"]),
                       settings["weights"], float(settings["half_life_days"]))


# --------------------------------------------------------------------------- svd_model


class SvdModelConfig(dg.Config):
    window_days: int = 28          # days of clean.events ending at the latest day present
    k: int = 32                    # latent factors (capped below the number of items)
    half_life_days: float = 14.0   # recency decay of an event's weight
    # per event type; a review weighs weights["review"] * (rating - 3) / 2 (pydantic copies
    # the default per instance)
    weights: dict[str, float] = DEFAULT_WEIGHTS
    min_item_users: int = 2        # items with fewer users stay out of the model
    eval_holdout_days: int = 3     # last days of the window held out for evaluation
    min_recall_at_10: float = 0.02  # promotion floor on hold-out recall@10
    n_iter: int = 7                # power iterations of the randomized SVD
    seed: int = 0


def _check_metadata(metrics: dict, floor: float) -> tuple[bool, str]:
    svd, pop = metrics["svd_recall_at_10"], metrics["popularity_recall_at_10"]
    if svd < floor:
        return False, f"recall@10 {svd:.4f} is below the floor {floor}"
    if svd <= pop:
        return False, f"recall@10 {svd:.4f} does not beat popularity ({pop:.4f})"
    return True, f"recall@10 {svd:.4f} >= floor {floor} and > popularity {pop:.4f}"


@dg.asset(
    deps=["cleaned_events"],
    group_name="factors",
    tags={"role": "model"},
    kinds={"scikitlearn", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("svd_beats_popularity", asset="svd_model", blocking=True,
                          description="Hold-out recall@10 clears the configured floor and beats the "
                          "popularity baseline; the version is promoted to production only then."),
        dg.AssetCheckSpec("svd_lift_goal", asset="svd_model",
                          description=f"Hold-out recall@10 is at least {GOAL_LIFT}x popularity's "
                          "(the goal on demo data; a warning when missed)."),
    ],
)
def svd_model(context: dg.AssetExecutionContext, config: SvdModelConfig, warehouse: DuckDBResource):
    """TruncatedSVD (randomized) of the log1p-scaled, recency-decayed implicit-feedback user x
    item matrix over the last window_days of clean.events. Evaluated on a time split first
    (fit on days before the last eval_holdout_days, rank for the buyers of those days, against
    popularity), then refitted on the full window: that full-window fit is the saved version.
    Saves item factors, singular values, id maps, popularity and the weighting as a registry
    version (candidate; promoted when svd_beats_popularity passes) and ml.item_factors rows."""
    weights = {**DEFAULT_WEIGHTS, **config.weights}
    weight_params(weights, config.half_life_days)  # fail fast on a bad config
    if config.eval_holdout_days < 1 or config.eval_holdout_days >= config.window_days:
        raise dg.Failure("eval_holdout_days must be at least 1 and less than window_days")
    read = {"weights": weights, "half_life_days": config.half_life_days}
    with warehouse.get_connection() as con:
        first, last = registry.training_window(con, config.window_days)
        split = last - timedelta(days=config.eval_holdout_days - 1)
        if split <= first:
            raise dg.Failure(f"Only {first}..{last} in clean.events: too short for a "
                             f"{config.eval_holdout_days}-day hold-out.")
        full = read_interactions(con, first, last, **read)
        train = read_interactions(con, first, split - timedelta(days=1), **read)
        test = sql.run(con, "select_svd_test_purchases", first_day=split, last_day=last).df()
    context.log.info(f"Window {first}..{last}: {len(full):,} user-item pairs; hold-out from {split}")

    started = time.perf_counter()
    catalogue = int(full["product_id"].nunique())
    ev = holdout_evaluation(train, test, k=config.k, min_item_users=config.min_item_users,
                            seed=config.seed, n_iter=config.n_iter, catalogue_size=catalogue)
    eval_seconds = time.perf_counter() - started
    context.log.info(f"Hold-out: SVD recall@10 {ev.metrics['svd_recall_at_10']:.4f}, popularity "
                     f"{ev.metrics['popularity_recall_at_10']:.4f} ({eval_seconds:.1f} s)")

    started = time.perf_counter()
    m = build_matrix(full, min_item_users=config.min_item_users)
    factors = fit_svd(m.X, config.k, items=m.items, seed=config.seed, n_iter=config.n_iter)
    fit_seconds = time.perf_counter() - started
    explained = float((factors.singular_values ** 2).sum() / max(m.X.power(2).sum(), 1e-12))
    popularity = popularity_scores(m.purchased, m.X)

    settings = {"window_days": config.window_days, "window_start": first, "window_end": last,
                "weights": weights, "half_life_days": config.half_life_days,
                "scaling": "log1p(max(sum of decayed weights, 0))",
                "decay": "weight * 0.5 ** (days before window_end / half_life_days)",
                "review": "weights['review'] * (rating - 3) / 2", "k": factors.k,
                "min_item_users": config.min_item_users}
    version = registry.new_version()
    holder: dict[str, pd.DataFrame] = {}

    def write(folder: Path) -> None:
        holder["items"] = save_model(folder, m, factors, popularity, settings)

    path = registry.write_artifact(MODEL_NAME, version, write)
    items = holder["items"]
    metrics = {**ev.metrics, "train_users": len(m.users), "train_items": len(m.items),
               "items_below_min_users": m.dropped_items, "nonzeros": int(m.X.nnz),
               "k": factors.k, "explained_energy": explained, "fit_seconds": fit_seconds,
               "eval_seconds": eval_seconds, "eval_split_day": split.isoformat(),
               "evaluated_model": "fit on window days before eval_split_day; saved model refitted on the full window"}
    passed, why = _check_metadata(ev.metrics, config.min_recall_at_10)
    recall = ev.metrics["svd_recall_at_10"]
    item_rows = pa.table({
        "product_id": items["product_id"].to_numpy(), "item_index": items["item_index"].to_numpy(),
        "factors": pa.FixedSizeListArray.from_arrays(
            pa.array(factors.item_factors.astype(np.float32).ravel()), factors.k),
        "users": items["users"].to_numpy(), "purchasers": items["purchasers"].to_numpy(),
        "popularity_rank": items["popularity_rank"].to_numpy()})
    with warehouse.get_connection() as con:
        registry.register(con, MODEL_NAME, version, artifact_path=path, metrics=metrics,
                          config=config.model_dump() | {"weights": weights, "k_used": factors.k},
                          window=(first, last))
        with transaction(con):
            con.register("new_item_factors", item_rows)
            sql.run(con, "delete_item_factors_version", version=version)
            sql.run(con, "insert_item_factors", version=version)
            con.unregister("new_item_factors")
        if passed:
            passed, why = registry.not_worse_than_production(
                con, MODEL_NAME, "svd_recall_at_10", recall, REGRESSION_TOLERANCE)
        if passed:
            registry.promote(con, MODEL_NAME, version, f"svd_beats_popularity passed: {why}")
    if not passed:
        context.log.warning(f"{version} stays a candidate: {why}")

    M = ev.metrics
    yield dg.MaterializeResult(metadata={
        "version": version,
        "status": registry.PRODUCTION if passed else registry.CANDIDATE,
        "artifact": dg.MetadataValue.path(str(path)),
        "training_window": f"{first}..{last}",
        "eval_split": f"train {first}..{split - timedelta(days=1)}, test purchases {split}..{last}",
        "dagster/row_count": len(m.items),
        "users": len(m.users), "items": len(m.items), "nonzeros": int(m.X.nnz),
        "items_below_min_users": m.dropped_items, "k": factors.k,
        "explained_energy": dg.MetadataValue.float(explained),
        "svd_recall_at_10": dg.MetadataValue.float(M["svd_recall_at_10"]),
        "svd_ndcg_at_10": dg.MetadataValue.float(M["svd_ndcg_at_10"]),
        "svd_coverage_at_10": dg.MetadataValue.float(M["svd_coverage_at_10"]),
        "popularity_recall_at_10": dg.MetadataValue.float(M["popularity_recall_at_10"]),
        "popularity_ndcg_at_10": dg.MetadataValue.float(M["popularity_ndcg_at_10"]),
        "popularity_coverage_at_10": dg.MetadataValue.float(M["popularity_coverage_at_10"]),
        "lift_over_popularity": dg.MetadataValue.float(M["lift_over_popularity"]),
        "eval_users": M["eval_users"], "eval_users_known": M["eval_users_known"],
        "evaluation": dg.MetadataValue.md(markdown_table(
            ["recommender", "recall@10", "NDCG@10", "coverage", "recall@10 (known users)"], ev.table)),
        "singular_values": str([round(float(s), 3) for s in factors.singular_values[:10]]),
        "fit_seconds": round(fit_seconds, 2),
        "weighting": dg.MetadataValue.json(settings | {"window_start": str(first), "window_end": str(last)}),
    })
    yield dg.AssetCheckResult(
        check_name="svd_beats_popularity", passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        description=why,
        metadata={"svd_recall_at_10": M["svd_recall_at_10"],
                  "popularity_recall_at_10": M["popularity_recall_at_10"],
                  "floor": config.min_recall_at_10, "version": version,
                  "outcome": "promoted to production" if passed else "left as candidate"})
    yield dg.AssetCheckResult(
        check_name="svd_lift_goal", passed=M["lift_over_popularity"] >= GOAL_LIFT,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"lift_over_popularity": M["lift_over_popularity"], "goal": GOAL_LIFT})


# --------------------------------------------------------------------------- daily assets


def _model_window(model: LoadedModel, day: date) -> tuple[date, date]:
    return day - timedelta(days=model.window_days - 1), day


@dg.asset(
    deps=["svd_model", "cleaned_events"],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    group_name="factors",
    kinds={"numpy", "duckdb"},
    pool="duckdb",
)
def user_factors(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
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
            df = read_interactions(con, first, day, weights=model.weights,
                                   half_life_days=model.half_life_days, users_day=day)
            active = len(sql.query(con, "select_factor_active_users", day=day))
        m = build_matrix(df, items=model.factors.items)
        U = model.factors.fold_in(m.X)
        known = np.diff(m.X.indptr).astype(np.int32)
        rows = pa.table({
            "user_id": m.users,
            "factors": pa.FixedSizeListArray.from_arrays(pa.array(U.astype(np.float32).ravel()),
                                                         model.factors.k),
            "known_items": known, "unknown_items": m.unknown_items.astype(np.int32)})
        new_items = m.dropped_items
        with warehouse.get_connection() as con, transaction(con):
            sql.run(con, "delete_user_factors_partition", day=day)
            con.register("new_user_factors", rows)
            sql.run(con, "insert_user_factors", day=day, version=version,
                    now=datetime.now(UTC).replace(tzinfo=None))
            con.unregister("new_user_factors")
        cold = active - len(m.users)
        per_day.append([key, active, len(m.users), cold, new_items])
        log(key, f"{len(m.users):,} of {active:,} active users folded in "
                 f"({cold:,} without known items); {new_items:,} items new to {version}")
    with warehouse.get_connection() as con:
        preview = preview_file(con, "preview_user_factors", day=days[-1])
    last = per_day[-1]
    return dg.MaterializeResult(metadata={
        "days": days_label(days),
        "model_version": version,
        "dagster/row_count": sum(r[2] for r in per_day),
        "active_users": last[1], "users_with_factors": last[2],
        "users_without_known_items": last[3], "items_unknown_to_model": last[4],
        "per_day": dg.MetadataValue.md(markdown_table(
            ["day", "active users", "with factors", "no known items (cold)", "items new to model"],
            per_day)),
        "preview": preview,
    })


class RecommendationsConfig(dg.Config):
    n: int = 10  # recommendations per user


@dg.asset(
    deps=["user_factors", "svd_model", "cleaned_events"],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    group_name="factors",
    kinds={"numpy", "duckdb"},
    pool="duckdb",
)
def recommendations(context: dg.AssetExecutionContext, config: RecommendationsConfig,
                    warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.recommendations: the top n items per active user of the day, never one the user has
    ever bought. Users with factors (ml.user_factors of the day) are ranked by the production
    svd_model's reconstruction (source 'svd'); the others by the model's popularity (buyers in
    its window; source 'popularity'). Fails if the day's factors came from another version."""
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
            fac = sql.run(con, "select_user_factors_day", day=day).df()
            active = [r[0] for r in sql.query(con, "select_factor_active_users", day=day)]
            bought = sql.run(con, "select_recommend_purchased", day=day).df()
        stale = set(fac["model_version"]) - {version}
        if stale:
            raise dg.Failure(f"ml.user_factors for {key} were made with {sorted(stale)}, not the "
                             f"production {version}: rematerialize user_factors for {key} first.")
        users = np.array(sorted(active), dtype=object)
        items = model.factors.items
        row = pd.Index(users).get_indexer(bought["user_id"])
        col = pd.Index(items).get_indexer(bought["product_id"])
        ok = (row >= 0) & (col >= 0)
        exclude = sp.csr_matrix((np.ones(ok.sum(), dtype=bool), (row[ok], col[ok])),
                                shape=(len(users), len(items)))
        U = np.zeros((len(users), model.factors.k))
        warm = np.zeros(len(users), dtype=bool)
        if len(fac):
            at = pd.Index(users).get_indexer(fac["user_id"])
            U[at] = np.stack(fac["factors"].to_numpy())
            warm[at] = True
        idx, val = top_n(svd_or_popularity(model.factors, U, warm, model.popularity), exclude, config.n)
        r, c = np.nonzero(idx >= 0)
        recs = pa.table({
            "user_id": users[r].astype(str), "rank": (c + 1).astype(np.int32),
            "product_id": items[idx[r, c]], "score": val[r, c],
            "source": np.where(warm[r], "svd", "popularity")})
        with warehouse.get_connection() as con, transaction(con):
            sql.run(con, "delete_recommendations_partition", day=day)
            con.register("new_recommendations", recs)
            sql.run(con, "insert_recommendations", day=day, version=version,
                    now=datetime.now(UTC).replace(tzinfo=None))
            con.unregister("new_recommendations")
        short = int((np.count_nonzero(idx >= 0, axis=1) < config.n).sum())
        per_day.append([key, len(users), int(warm.sum()), int((~warm).sum()), len(recs),
                        len(set(items[idx[idx >= 0]])), short])
        log(key, f"{len(recs):,} recommendations for {len(users):,} users "
                 f"({int((~warm).sum()):,} by popularity)")
    with warehouse.get_connection() as con:
        preview = preview_file(con, "preview_recommendations", day=days[-1])
    last = per_day[-1]
    return dg.MaterializeResult(metadata={
        "days": days_label(days),
        "model_version": version,
        "dagster/row_count": sum(r[4] for r in per_day),
        "users": last[1], "users_svd": last[2], "users_popularity": last[3],
        "distinct_items_recommended": last[5], "users_with_fewer_than_n": last[6],
        "per_day": dg.MetadataValue.md(markdown_table(
            ["day", "users", "svd", "popularity", "rows", "distinct items", "fewer than n"], per_day)),
        "preview": preview,
    })
