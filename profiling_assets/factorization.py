"""Collaborative factors, the model: event weighting, the user x item matrix, the truncated
SVD and its fold-in, top-N ranking, popularity, the ranking metrics and the promotion rule,
and the version artifact (the SVD plus the recommender family that won the evaluation of
recommenders.py). Plain Python over DuckDB reads, numpy and scipy, with no Dagster; the
assets ``svd_model``, ``user_factors`` and ``recommendations`` (factors.py) read, call
these, write and report.

Weighting (the same for fitting, evaluation and scoring): every event on a product weighs
by its type (view 1, cart 3, purchase 5, review by its rating from -w to +w, return -5 by
default), halved every ``half_life_days`` before the reference day, and summed per
(user, item); a cell is ``log1p(max(sum, 0))``, so a returned purchase cancels out and heavy
browsing does not drown a purchase.

Fold-in: with X ~ U diag(sigma) V^T, a user's factors are u = r_u V diag(1/sigma), where r_u
is the user's weighted row; for a user of the training matrix this is exactly the fitted row
of U. Scores are u diag(sigma) V^T = r_u V V^T, the rank-k reconstruction of the row.
"""

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from profiling_assets import recommenders as R
from profiling_assets import registry, sql

EVAL_K, SCORE_CELLS = R.EVAL_K, R.SCORE_CELLS  # one definition, in the protocol
DEFAULT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0, "review": 2.0, "return": -5.0}


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
                      users_day: date | None = None, profiled: bool = False,
                      passes: int = 1, part: int = 0) -> pd.DataFrame:
    """(user_id, product_id, weight, purchases, last_date) over first_day..last_day, decayed
    towards last_day; with ``users_day``, of that day's active users (and with ``profiled``
    of its user_features users too); of one of ``passes`` disjoint groups of users."""
    return sql.run(con, "select_factor_interactions", first_day=first_day, last_day=last_day,
                   ref_day=last_day, users_day=users_day, profiled=profiled,
                   literals={"passes": str(passes), "part": str(part)},
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
    dropped: np.ndarray        # the distinct items left out (too few users, or unknown to a model)

    @property
    def dropped_items(self) -> int:
        return len(self.dropped)


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
    dropped = df.loc[~known, "product_id"].unique()
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


def promotion_decision(metrics: dict, floor: float) -> tuple[bool, str]:
    """The blocking rule: the winner's recall@10 clears the floor and beats the strongest
    baseline's, by more than chance: the lower bound of the paired bootstrap interval of its
    per-user gain is above zero (a blend that only matches buy-again adds nothing)."""
    recall, best = metrics["recall_at_10"], metrics["strongest_baseline_recall_at_10"]
    name, winner = metrics["strongest_baseline"], metrics["winner"]
    if recall < floor:
        return False, f"{winner} recall@10 {recall:.4f} is below the floor {floor}"
    if recall <= best:
        return False, (f"{winner} recall@10 {recall:.4f} does not beat the strongest baseline "
                       f"{name} ({best:.4f})")
    low = metrics.get("recall_gain_ci_low")
    interval = (f"gain {metrics.get('recall_gain_over_strongest', recall - best):+.4f}, "
                f"{metrics.get('recall_gain_ci_level', R.BOOTSTRAP_LEVEL):.0%} bootstrap interval "
                f"{low if low is not None else float('nan'):+.4f}..{metrics.get('recall_gain_ci_high', float('nan')):+.4f}")
    if low is None or low <= 0:
        return False, (f"{winner} recall@10 {recall:.4f} beats the strongest baseline {name} "
                       f"({best:.4f}) by no more than chance over these users ({interval})")
    return True, (f"{winner} recall@10 {recall:.4f} >= floor {floor} and > strongest baseline "
                  f"{name} {best:.4f} ({recall / best if best else float('inf'):.2f}x; {interval})")


# --------------------------------------------------------------------------- artifact


@dataclass
class LoadedModel:
    version: str
    factors: SvdFactors           # always saved: user_factors folds users into it
    popularity: np.ndarray        # per SVD item (column): popularity in the training window
    window_days: int
    weights: dict[str, float]
    half_life_days: float
    family: str = "svd"           # the recommender that won the evaluation
    scorer: R.Scorer | None = None
    buy_again_slots: int = 0
    blend_tail: str = R.TAIL_MODEL
    history_days: int = 365
    buy_again_half_life: float = R.BUY_AGAIN_HALF_LIFE
    reranker: R.Reranker | None = None   # when the re-ranker won: it ranks the candidates


def save_model(folder: Path, m: Matrix, factors: SvdFactors, popularity: np.ndarray,
               settings: dict, scorer: R.Scorer | None = None,
               reranker: R.Reranker | None = None) -> pd.DataFrame:
    """Write the version folder; returns the item table (also written to ml.item_factors).
    The SVD is always saved (user_factors and segments use its factors); the winning family's
    own state (the re-ranker's candidate family's, when it won) goes to recommender.npz, its
    name and blend to weighting.json, the re-ranker itself to reranker.joblib."""
    if reranker is not None:
        import joblib

        joblib.dump(reranker, folder / "reranker.joblib")
    np.savez(folder / "factors.npz", item_factors=factors.item_factors.astype(np.float32),
             singular_values=factors.singular_values)
    if isinstance(scorer, R.AlsScorer):
        np.savez(folder / "recommender.npz", item_factors=scorer.model.item_factors,
                 items=scorer.items.astype(str))
    elif isinstance(scorer, R.KnnScorer):
        S = scorer.similarity.tocsr()
        np.savez(folder / "recommender.npz", data=S.data, indices=S.indices, indptr=S.indptr,
                 shape=np.array(S.shape), items=scorer.items.astype(str))
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
    """The version's SVD and its winning recommender (versions saved before families existed
    are SVD without a blend)."""
    path = version.artifact_path
    with np.load(path / "factors.npz") as z:
        V, sigma = z["item_factors"].astype(np.float64), z["singular_values"]
    items = pd.read_parquet(path / "items.parquet").sort_values("item_index")
    settings = json.loads((path / "weighting.json").read_text())
    svd = SvdFactors(items["product_id"].to_numpy().astype(str), V, sigma)
    family = settings.get("family", "svd")
    reranker = None
    scorer_family = family
    if family == R.RERANKED:
        import joblib

        # a file this project wrote into its own version folder (never user input)
        reranker = joblib.load(path / "reranker.joblib")
        scorer_family = reranker.family
    scorer: R.Scorer = R.SvdScorer(svd)
    if scorer_family == "als":
        from implicit.cpu.als import AlternatingLeastSquares

        with np.load(path / "recommender.npz") as z:
            Y, ids = z["item_factors"], z["items"]
        als = settings["als"]
        model = AlternatingLeastSquares(factors=Y.shape[1], regularization=als["regularization"],
                                        alpha=als["alpha"], num_threads=als["threads"])
        model.item_factors = np.ascontiguousarray(Y, dtype=np.float32)
        scorer = R.AlsScorer(model, ids.astype(str))
    elif scorer_family == "item_knn":
        with np.load(path / "recommender.npz") as z:
            S = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            ids = z["items"]
        scorer = R.KnnScorer(S, ids.astype(str))
    blend = settings.get("blend", {})
    return LoadedModel(version.version, svd, items["popularity"].to_numpy(), int(settings["window_days"]),
                       settings["weights"], float(settings["half_life_days"]), family, scorer,
                       int(blend.get("buy_again_slots", 0)), blend.get("tail", R.TAIL_MODEL),
                       int(settings.get("history_days", 365)),
                       float(settings.get("buy_again_half_life", R.BUY_AGAIN_HALF_LIFE)), reranker)
