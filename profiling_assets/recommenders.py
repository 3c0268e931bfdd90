"""Candidate recommenders and the evaluation protocol that chooses between them.

Everything here is plain Python over DuckDB reads and numpy/scipy; the ``svd_model`` asset
(factors.py) calls it, reports and registers, and the daily ``recommendations`` asset applies
the same ranking code to every profiled user.

The protocol (``evaluate``), as the daily asset will be used:

- **Time split.** The last ``horizon`` days of clean.events are the truth (every purchase,
  re-orders included); the model trains on interactions before that cutoff. An *inner* split
  one horizon earlier (train before it, truth in the horizon that follows, all before the
  outer cutoff) learns the buy-again blend and picks the model family, so nothing is tuned on
  the evaluation horizon.
- **Users**: every user with history before the cutoff (an interaction in the model window or
  a purchase in the ``history_days`` lookback) who buys anything in the horizon.
- **Recommenders** (top ``n``): three baselines — ``popularity_unseen`` (buyers in the window,
  never an item the user bought), ``popularity`` (the same order, repeats allowed) and
  ``buy_again`` (the user's purchases by recency-weighted count, half-life 60 days, then
  popularity_unseen) — and each model family (``svd``, ``als``, ``item_knn``), blended with
  buy-again: the first ``slots`` places go to the user's buy-again items (as many as they have),
  the rest to the model's unseen items (popularity for users the model does not know).
- **Re-ranker** (``reranked``): a per-user blend learnt on the inner split; each user's own
  items, the best discovering family's top unseen items and the popular items are candidates,
  a gradient-boosted classifier on features from before the cutoff scores them (trained with
  the inner horizon's purchases as labels), and each user's list is their best candidates.
- **Metrics**: recall@n, NDCG@n, hit rate@n, catalogue coverage@n.

A model wins only by beating the strongest baseline on the outer split.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from profiling_assets import sql

EVAL_K = 10
FAMILIES = ("svd", "als", "item_knn")
BASELINES = ("popularity_unseen", "popularity", "buy_again")
BUY_AGAIN_HALF_LIFE = 60.0
# Adaptive window: the model window grows along these steps (days) until the training data
# clears every floor below, or the history runs out (then the longest available is used).
WINDOW_STEPS = (28, 56, 112, 224, 365)
MIN_WINDOW_USERS = 500          # users with an interaction in the window
MIN_WINDOW_PAIRS = 20_000       # distinct (user, item) pairs
MIN_USERS_PER_ITEM = 20.0       # mean distinct users per item: collaborative signal per item
# The shortest protocol: one training day before the inner split, then two horizons.
MIN_TRAIN_DAYS = 1
MIN_EVAL_USERS = 10             # fewer evaluated users on a split: figures are noise, skip
# Dense scores held at once (users x items cells) while ranking; bounds memory at any scale.
SCORE_CELLS = 5_000_000

SOURCE_BUY_AGAIN, SOURCE_POPULARITY = "buy_again", "popularity"
# What fills a blend's places after buy-again: the model's unseen items, or popularity's when
# the model's discovery does not beat popularity on the inner split.
TAIL_MODEL, TAIL_POPULARITY = "model", "popularity"

# The learnt per-user blend (a re-ranker over candidates; see the re-ranker section below).
RERANKED = "reranked"
# Promotion asks the winner's gain in recall over the strongest baseline to hold over a paired
# bootstrap of the evaluated users: the lower bound of its 90% interval above zero (a
# one-sided 95% test), so a winner that is better by luck of the sample stays a candidate.
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_LEVEL = 0.90
RERANK_MODEL_CANDIDATES = 50     # top unseen items of the collaborative family per user
RERANK_POPULAR_CANDIDATES = 20   # top popular items per user (2x the list length)
RERANK_HALF_LIVES = (14.0, 60.0, 180.0)   # decayed purchase counts: short, mid, long memory
RERANK_FOLDS = 2                 # inner-split cross-fitting, so its inner recall is out-of-sample
RERANK_BATCH_USERS = 20_000      # users whose candidates are held at once (bounded memory)
# OpenMP threads of the classifier: its inputs are small (candidates of evaluated users, or a
# batch of users), and on a shared machine waiting OpenMP threads cost more than they give
# (measured: a 12k-candidate fit 0.07 s on one thread, 3.9 s on two under load).
RERANK_THREADS = 1
RERANK_PREDICT_ROWS = 100_000    # candidates per classifier call (bounded memory)


class NotEnoughHistory(ValueError):
    """The warehouse holds too little history for the protocol; the message says what is
    missing. The model asset reports it and skips; it never crashes the run."""


# --------------------------------------------------------------------------- settings


@dataclass
class Params:
    """Everything the protocol and the families need; the svd_model config maps onto it."""
    weights: dict[str, float]
    half_life_days: float = 14.0
    horizon_days: int = 14
    window_days: int = 28            # the first step of the adaptive window
    max_window_days: int = 365
    history_days: int = 365          # buy-again lookback
    buy_again_half_life: float = BUY_AGAIN_HALF_LIFE
    min_item_users: int = 2
    k: int = 32
    n_iter: int = 7
    als_iterations: int = 15
    als_regularization: float = 0.05
    als_alpha: float = 10.0
    knn_neighbours: int = 100
    families: tuple[str, ...] = FAMILIES
    threads: int = 0                 # 0: min(cores, 4)
    seed: int = 0
    n: int = EVAL_K
    rerank: bool = True              # also evaluate the learnt per-user blend
    rerank_model_candidates: int = RERANK_MODEL_CANDIDATES
    rerank_popular_candidates: int = RERANK_POPULAR_CANDIDATES

    @property
    def num_threads(self) -> int:
        return self.threads or max(1, min(os.cpu_count() or 1, 4))


# --------------------------------------------------------------------------- reads


@dataclass
class SplitData:
    """Everything one split needs: model-window interactions, the purchase lookback and the
    truth of the following horizon (empty for a production fit)."""
    cutoff: date                # first day not used for training
    window: tuple[date, date]
    history: tuple[date, date]
    interactions: pd.DataFrame  # user_id, product_id, weight, purchases, last_date
    purchases: pd.DataFrame     # user_id, product_id, purchases, recency
    truth: pd.DataFrame         # user_id, product_id
    rerank_pairs: pd.DataFrame | None = None   # select_rerank_purchases over the history
    rerank_items: pd.DataFrame | None = None   # select_rerank_item_stats over the history


def read_frame(con: duckdb.DuckDBPyConnection, name: str, **params) -> pd.DataFrame:
    """A single-statement SQL file's rows as a DataFrame, read through Arrow: the same frame
    as a cursor's ``.df()`` (dates as datetime64), at about half its cost on millions of rows."""
    return sql.arrow(con, name, **params).to_pandas(date_as_object=False)


def read_rerank_inputs(con: duckdb.DuckDBPyConnection, first: date, last: date,
                       users_day: date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The re-ranker's purchase features per (user, item) and per item over first..last
    (the cutoff is the day after ``last``: nothing later is read)."""
    h_short, h_mid, h_long = RERANK_HALF_LIVES
    pairs = read_frame(con, "select_rerank_purchases", first_day=first, last_day=last,
                       users_day=users_day, h_short=h_short, h_mid=h_mid, h_long=h_long)
    items = read_frame(con, "select_rerank_item_stats", first_day=first, last_day=last)
    return pairs, items


def read_purchases(con: duckdb.DuckDBPyConnection, first: date, last: date, half_life: float,
                   users_day: date | None = None) -> pd.DataFrame:
    return read_frame(con, "select_purchase_history", first_day=first, last_day=last,
                      half_life_days=float(half_life), users_day=users_day)


def read_recommend_interactions(con: duckdb.DuckDBPyConnection, first: date, last: date, *,
                                weights: dict[str, float], half_life_days: float,
                                users_day: date) -> pd.DataFrame:
    """factorization.read_interactions of the day's recommended users (its profiled read),
    through Arrow."""
    from profiling_assets.factorization import weight_params

    return read_frame(con, "select_factor_interactions", first_day=first, last_day=last,
                      ref_day=last, users_day=users_day, profiled=True,
                      literals={"passes": "1", "part": "0"},
                      **weight_params(weights, half_life_days))


def read_split(con: duckdb.DuckDBPyConnection, cutoff: date, horizon: int, window: int,
               params: Params, first_day: date) -> SplitData:
    from profiling_assets.factorization import read_interactions

    last_train = cutoff - timedelta(days=1)
    w_first = max(first_day, cutoff - timedelta(days=window))
    h_first = max(first_day, cutoff - timedelta(days=params.history_days))
    inter = read_interactions(con, w_first, last_train, weights=params.weights,
                              half_life_days=params.half_life_days)
    purchases = read_purchases(con, h_first, last_train, params.buy_again_half_life)
    truth = (sql.run(con, "select_horizon_purchases", first_day=cutoff,
                     last_day=cutoff + timedelta(days=horizon - 1)).df()
             if horizon > 0 else pd.DataFrame({"user_id": [], "product_id": []}))
    pairs, items = (read_rerank_inputs(con, h_first, last_train) if params.rerank else (None, None))
    return SplitData(cutoff, (w_first, last_train), (h_first, last_train), inter, purchases, truth,
                     pairs, items)


# --------------------------------------------------------------------------- split plan


@dataclass
class Plan:
    first_day: date
    last_day: date
    horizon: int
    outer_cutoff: date
    inner_cutoff: date
    window: int
    window_reason: str
    window_stats: list[list] = field(default_factory=list)


def plan_splits(first: date, last: date, horizon_days: int) -> tuple[int, date, date]:
    """(horizon, outer cutoff, inner cutoff): the horizon is the configured one, shortened to a
    quarter of the history when the history is short; NotEnoughHistory when even one day of
    training before the inner split does not fit."""
    span = (last - first).days + 1
    horizon = max(1, min(horizon_days, span // 4))
    if span - 2 * horizon < MIN_TRAIN_DAYS:
        raise NotEnoughHistory(
            f"clean.events holds {span} day(s) ({first}..{last}); the protocol needs at least "
            f"{2 + MIN_TRAIN_DAYS} (training days, an inner and an outer horizon)")
    outer = last - timedelta(days=horizon - 1)
    return horizon, outer, outer - timedelta(days=horizon)


def choose_window(con: duckdb.DuckDBPyConnection, params: Params, first: date, before: date
                  ) -> tuple[int, str, list[list]]:
    """The shortest step of WINDOW_STEPS (from window_days, at most max_window_days) whose
    training data ending the day before ``before`` clears the floors; otherwise the longest the
    history allows. Returns (days, why, the stats of each step tried)."""
    available = (before - first).days
    steps = sorted({s for s in (params.window_days, *WINDOW_STEPS)
                    if params.window_days <= s <= params.max_window_days})
    tried: list[list] = []
    for step in steps:
        days = min(step, available)
        users, pairs, items = sql.query(con, "select_window_stats", first_day=before - timedelta(days=days),
                                        last_day=before - timedelta(days=1))[0]
        per_item = pairs / items if items else 0.0
        tried.append([days, users, pairs, items, round(per_item, 1)])
        short = [f"{name} {value:,.0f} < {floor:,.0f}" for name, value, floor in (
            ("users", users, MIN_WINDOW_USERS), ("pairs", pairs, MIN_WINDOW_PAIRS),
            ("users per item", per_item, MIN_USERS_PER_ITEM)) if value < floor]
        if not short:
            return days, (f"{days} days: {users:,} users, {pairs:,} pairs, {per_item:.1f} users "
                          "per item clear the floors"), tried
        if days >= available:
            return days, (f"{days} days (all the history before the split): "
                          f"floors not reached ({'; '.join(short)})"), tried
    return tried[-1][0], (f"{tried[-1][0]} days (max_window_days): floors not reached "
                          f"({'; '.join(short)})"), tried


# --------------------------------------------------------------------------- model families


class Scorer:
    """A fitted family: ``items`` (its columns) and dense scores for user rows over them.
    Families with a per-user state (SVD, ALS) split scoring in two, ``user_factors`` of many
    rows at once, then ``factor_scores`` of a block of them: a user's state never depends on
    the other rows, while the dense product is done block by block as before (BLAS sums a
    product's terms in an order that depends on the block's shape)."""
    family: str
    items: np.ndarray

    def score(self, R: sp.csr_matrix) -> np.ndarray:
        U = self.user_factors(R)
        if U is None:
            raise NotImplementedError
        return self.factor_scores(U)

    def user_factors(self, R: sp.csr_matrix) -> np.ndarray | None:
        """Each row's state for ``factor_scores``; None: the family scores rows directly."""
        return None

    def factor_scores(self, U: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError


class SvdScorer(Scorer):
    family = "svd"

    def __init__(self, factors):
        self.factors, self.items = factors, factors.items

    def user_factors(self, R: sp.csr_matrix) -> np.ndarray:
        return self.factors.fold_in(R)

    def factor_scores(self, U: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            return self.factors.scores(U, np.float32)
        # the same product as SvdFactors.scores(U, float32), written into out
        return np.matmul((U * self.factors.singular_values).astype(np.float32),
                         self.factors._item_factors32.T, out=out)


class AlsScorer(Scorer):
    """implicit's ALS; a user's factors are recomputed from their row with the library's own
    least-squares step (``recalculate_user``), the ALS counterpart of the SVD fold-in."""
    family = "als"

    def __init__(self, model, items: np.ndarray):
        self.model, self.items = model, items

    def user_factors(self, R: sp.csr_matrix) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # one call for many rows: each row's solve is its own, and the call's fixed cost
        # (the items' Gram matrix) is paid once
        with threadpool_limits(1, "blas"):
            U = self.model.recalculate_user(np.arange(R.shape[0]), sp.csr_matrix(R, dtype=np.float32))
        return np.asarray(U, dtype=np.float32)

    def factor_scores(self, U: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.matmul(U, self.model.item_factors.T, out=out)


class KnnScorer(Scorer):
    """implicit's BM25 item-item recommender: a user's score of an item is their row times
    the item-item similarity (no user state at all, so any user is scored as is)."""
    family = "item_knn"

    def __init__(self, similarity: sp.csr_matrix, items: np.ndarray):
        self.similarity, self.items = similarity.tocsr(), items

    def score(self, R: sp.csr_matrix) -> np.ndarray:
        return (sp.csr_matrix(R, dtype=np.float32) @ self.similarity).toarray()


def fit_family(family: str, X: sp.csr_matrix, items: np.ndarray, params: Params) -> Scorer:
    """Fit one family on the scaled user x item matrix X (columns = ``items``)."""
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise NotEnoughHistory(f"{X.shape[0]} user(s) x {X.shape[1]} item(s): too few to fit {family}")
    if family == "svd":
        from profiling_assets.factorization import fit_svd

        return SvdScorer(fit_svd(X, params.k, items=items, seed=params.seed, n_iter=params.n_iter))
    import warnings

    from threadpoolctl import threadpool_limits

    # implicit parallelises itself; BLAS threads inside its threads only oversubscribe the cores
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's notes on input formats and BLAS threads
        if family == "als":
            from implicit.cpu.als import AlternatingLeastSquares

            model = AlternatingLeastSquares(
                factors=params.k, regularization=params.als_regularization, alpha=params.als_alpha,
                iterations=params.als_iterations, random_state=params.seed,
                num_threads=params.num_threads)
            model.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
            return AlsScorer(model, items)
        if family == "item_knn":
            from implicit.nearest_neighbours import BM25Recommender

            model = BM25Recommender(K=params.knn_neighbours, num_threads=params.num_threads)
            model.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
            return KnnScorer(model.similarity, items)
    raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")


# --------------------------------------------------------------------------- ranking


def top_n(score_rows: Callable[[int, int], np.ndarray], exclude: sp.csr_matrix, n: int,
          batch: int | None = None) -> np.ndarray:
    """Column indices of the n best per row, never an excluded cell (-1 where none is left)."""
    from profiling_assets.factorization import top_n as _top_n

    return _top_n(score_rows, exclude, n, batch=batch)[0]


@dataclass
class Lists:
    """Top-n lists over a catalogue: item index per (user, place), -1 = empty, and the source
    of each place (an index into ``names``)."""
    idx: np.ndarray
    src: np.ndarray


SOURCES = (SOURCE_BUY_AGAIN, SOURCE_POPULARITY, *FAMILIES)


def _code(source: str) -> int:
    return SOURCES.index(source)


def blend(first: Lists, second: Lists, slots: int, n: int, fill: Lists | None = None) -> Lists:
    """Up to ``slots`` entries of ``first``, then ``second``, then ``fill``; no item twice.
    Lists are left-packed (-1 only after the last item). Vectorised over users: the parts
    are laid side by side, later copies of an item dropped, and the first n kept."""
    parts = [(first.idx[:, :slots], first.src[:, :slots]), (second.idx, second.src)]
    if fill is not None:
        parts.append((fill.idx, fill.src))
    cand = np.concatenate([i for i, _ in parts], axis=1).astype(np.int64)
    srcs = np.concatenate([s for _, s in parts], axis=1).astype(np.int8)
    users, width = cand.shape
    out_idx = np.full((users, n), -1, dtype=np.int64)
    out_src = np.full((users, n), -1, dtype=np.int8)
    if not users or not width:
        return Lists(out_idx, out_src)
    # a later copy of an item in its row: after a stable sort by item, equal neighbours
    order = np.argsort(cand, axis=1, kind="stable")
    ranked = np.take_along_axis(cand, order, axis=1)
    later = np.zeros_like(cand, dtype=bool)
    np.put_along_axis(later, order[:, 1:], ranked[:, 1:] == ranked[:, :-1], axis=1)
    keep = (cand >= 0) & ~later
    place = np.cumsum(keep, axis=1) - 1
    r, c = np.nonzero(keep & (place < n))
    out_idx[r, place[r, c]] = cand[r, c]
    out_src[r, place[r, c]] = srcs[r, c]
    return Lists(out_idx, out_src)


@dataclass
class Population:
    """The users to rank and what is known of them, over one catalogue."""
    users: np.ndarray            # user ids
    catalogue: pd.Index          # item ids: the column space of every list
    popularity: np.ndarray       # per catalogue item
    bought: sp.csr_matrix        # users x catalogue: recency-weighted purchases (> 0 = bought)
    R: sp.csr_matrix | None = None   # users x model items (scaled weights)


def positions(index: pd.Index | np.ndarray, values: pd.Series | np.ndarray) -> np.ndarray:
    """The position of each of ``values`` in ``index`` (unique ids; -1: absent): what
    ``pd.Index(index).get_indexer(values)`` gives, hashed by Arrow when both hold strings
    (several times faster on millions of ids than hashing Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        wanted = pa.array(values)
        strings = pa.types.is_string(wanted.type) or pa.types.is_large_string(wanted.type)
        known = pa.array(np.asarray(index, dtype=object), type=wanted.type) if strings else None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        known = None
    if known is None:
        return pd.Index(index).get_indexer(values)
    at = pc.index_in(wanted, value_set=known)
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def popularity_of(interactions: pd.DataFrame, catalogue: pd.Index) -> np.ndarray:
    """Distinct buyers in the window per item, plus a tie-breaker (< 0.5) by total weight."""
    from profiling_assets.factorization import scale

    value = scale(interactions["weight"].to_numpy())
    col = positions(catalogue, interactions["product_id"])
    # grouped by catalogue position instead of by id: the same rows in the same order per
    # group, so the same sums (pandas' compensated group sum)
    weight = pd.Series(value).groupby(col).sum()
    w = np.zeros(len(catalogue))
    inside = weight.index.to_numpy() >= 0
    w[weight.index.to_numpy()[inside]] = weight.to_numpy()[inside]
    # distinct buyers: distinct (item, user) among the purchase rows
    bought = (interactions["purchases"] > 0).to_numpy() & (col >= 0)
    buyer = pd.factorize(interactions["user_id"][bought])[0].astype(np.int64)
    span = int(buyer.max()) + 1 if len(buyer) else 1
    pairs = pd.unique(col[bought] * span + buyer)
    b = np.bincount(pairs // span, minlength=len(catalogue)).astype(np.float64)
    return b + w / (w.max() + 1.0) * 0.5 if len(w) else b


def population(users: Sequence[str], interactions: pd.DataFrame, purchases: pd.DataFrame,
               catalogue: pd.Index | None = None, popularity: np.ndarray | None = None) -> Population:
    users = np.asarray(sorted(set(users)), dtype=object)
    if catalogue is None:
        catalogue = pd.Index(np.sort(pd.unique(pd.concat(
            [interactions["product_id"], purchases["product_id"]]).astype(str))))
    if popularity is None:
        popularity = popularity_of(interactions, catalogue)
    row = positions(users, purchases["user_id"])
    col = positions(catalogue, purchases["product_id"])
    ok = (row >= 0) & (col >= 0)
    bought = sp.csr_matrix((purchases["recency"].to_numpy()[ok], (row[ok], col[ok])),
                           shape=(len(users), len(catalogue)))
    bought.sum_duplicates()
    return Population(users, catalogue, np.asarray(popularity, dtype=np.float64), bought)


def popularity_unseen(pop: Population, n: int) -> Lists:
    """The popularity order without the user's bought items; only the head of the order that
    can matter (n + the most items any user bought) is ranked, so cost is O(users x that)."""
    order = np.lexsort((np.arange(len(pop.popularity)), -pop.popularity))
    per_user = np.diff(pop.bought.indptr)
    head = order[: n + (int(per_user.max()) if len(per_user) else 0)]
    rank_score = -np.arange(len(head), dtype=np.float32)
    exclude = sp.csr_matrix(pop.bought[:, head] > 0)
    local = top_n(lambda lo, hi: np.broadcast_to(rank_score, (hi - lo, len(head))), exclude, n)
    idx = np.where(local >= 0, head[np.maximum(local, 0)], -1)
    return Lists(idx, np.where(idx >= 0, _code(SOURCE_POPULARITY), -1).astype(np.int8))


def popularity_plain(pop: Population, n: int) -> Lists:
    order = np.lexsort((np.arange(len(pop.popularity)), -pop.popularity))[:n]
    idx = np.full((len(pop.users), n), -1, dtype=np.int64)
    idx[:, : len(order)] = order
    return Lists(idx, np.where(idx >= 0, _code(SOURCE_POPULARITY), -1).astype(np.int8))


def buy_again_items(pop: Population, n: int) -> Lists:
    """Each user's bought items by recency-weighted purchases (ties: popularity), best first."""
    coo = pop.bought.tocoo()
    df = pd.DataFrame({"u": coo.row, "i": coo.col, "s": coo.data, "p": pop.popularity[coo.col]})
    df = df.sort_values(["u", "s", "p", "i"], ascending=[True, False, False, True])
    df["place"] = df.groupby("u").cumcount()
    df = df[df["place"] < n]
    idx = np.full((len(pop.users), n), -1, dtype=np.int64)
    idx[df["u"].to_numpy(), df["place"].to_numpy()] = df["i"].to_numpy()
    return Lists(idx, np.where(idx >= 0, _code(SOURCE_BUY_AGAIN), -1).astype(np.int8))


def model_unseen(pop: Population, scorer: Scorer, R: sp.csr_matrix, cold_fill: Lists, n: int,
                 batch_cells: int = SCORE_CELLS) -> Lists:
    """The model's top n unseen items (never one the user bought); users without a row the
    model knows take ``cold_fill`` (popularity) instead."""
    col_of_model = pop.catalogue.get_indexer(scorer.items)   # model column -> catalogue
    in_cat = col_of_model >= 0
    # bought items in model columns: the exclusion
    to_model = np.full(len(pop.catalogue), -1, dtype=np.int64)
    to_model[col_of_model[in_cat]] = np.flatnonzero(in_cat)
    b = pop.bought.tocoo()
    mc = to_model[b.col]
    keep = mc >= 0
    exclude = sp.csr_matrix((np.ones(keep.sum(), dtype=bool), (b.row[keep], mc[keep])),
                            shape=(len(pop.users), len(scorer.items)))
    warm = np.diff(R.indptr) > 0
    tie = (np.argsort(np.argsort(-pop.popularity[np.maximum(col_of_model, 0)], kind="stable"))
           .astype(np.float32))
    tie = -tie / max(len(tie), 1) * 1e-6  # only breaks exact ties (item-item zeros)
    batch = max(1, batch_cells // max(1, len(scorer.items)))
    local = np.full((len(pop.users), n), -1, dtype=np.int64)
    warm_rows = np.flatnonzero(warm)
    if len(warm_rows):
        Rw = R[warm_rows]
        local[warm_rows] = top_n(lambda lo, hi: scorer.score(Rw[lo:hi]) + tie, exclude[warm_rows], n,
                                 batch=batch)
    idx = np.where(local >= 0, col_of_model[np.maximum(local, 0)], -1)
    src = np.where(idx >= 0, _code(scorer.family), -1).astype(np.int8)
    out = Lists(idx, src)
    # cold users and short lists: popularity of unseen items fills
    return blend(out, cold_fill, n, n)


def model_rows(pop: Population, interactions: pd.DataFrame, items: np.ndarray) -> sp.csr_matrix:
    """The population's scaled rows over a model's columns (empty for users it cannot know):
    build_matrix's rows (the positive cells over ``items``), placed at the population's rows."""
    return _rows_of(pop.users, interactions, items)


def _rows_of(users: np.ndarray, interactions: pd.DataFrame, items: np.ndarray) -> sp.csr_matrix:
    from profiling_assets.factorization import scale

    value = scale(interactions["weight"].to_numpy())
    row = positions(users, interactions["user_id"])
    col = positions(items, interactions["product_id"])
    keep = (row >= 0) & (col >= 0) & (value > 0)
    return sp.csr_matrix((value[keep], (row[keep], col[keep])), shape=(len(users), len(items)))


# --------------------------------------------------------------------------- re-ranker
#
# A learnt, per-user blend. Candidates per user: every item they bought in the history window
# (source buy_again), the collaborative family's top unseen items (source: the family) and the
# most popular items (source popularity). Each (user, item) candidate gets the features below,
# all from data before the cutoff; a gradient-boosted classifier trained on the inner split
# (label: bought in the inner horizon) gives each a probability, and the user's list is their
# candidates by that probability. A re-orderer's own items and an explorer's new items then
# compete per user instead of through one global number of buy-again places.

PAIR_FEATURES = ("purchases", "item_orders", "decayed_short", "decayed_mid", "decayed_long",
                 "days_since_last", "days_since_first")
USER_FEATURES = ("user_items", "user_orders", "user_reorder_share")
ITEM_FEATURES = ("item_buyers_log", "item_reorder_rate", "popularity_rank")
FEATURES = ("own", *PAIR_FEATURES, *USER_FEATURES, *ITEM_FEATURES, "model_score", "model_rank")


@dataclass
class RerankInputs:
    """The purchase features of a population, as arrays: pair rows keyed by user row x C + item."""
    codes: np.ndarray        # sorted (user row x catalogue size + item) of bought pairs
    pair: np.ndarray         # per code: PAIR_FEATURES
    user: np.ndarray         # per user row: USER_FEATURES
    item: np.ndarray         # per catalogue item: ITEM_FEATURES


def rerank_inputs(pop: Population, pairs: pd.DataFrame, items: pd.DataFrame) -> RerankInputs:
    C, U = len(pop.catalogue), len(pop.users)
    u = positions(pop.users, pairs["user_id"].astype(str))
    i = positions(pop.catalogue, pairs["product_id"].astype(str))
    ok = (u >= 0) & (i >= 0)
    u, i, kept = u[ok], i[ok], pairs[ok]
    codes = u.astype(np.int64) * C + i
    order = np.argsort(codes, kind="stable")
    pair = kept[list(PAIR_FEATURES)].to_numpy(np.float32)[order]
    n_items = np.bincount(u, minlength=U).astype(np.float64)
    item_days = np.bincount(u, weights=kept["item_orders"].to_numpy(np.float64), minlength=U)
    orders = np.zeros(U)
    orders[u] = kept["user_orders"].to_numpy(np.float64)
    # the user's re-order share: purchase days of an item after its first, over all item-days
    share = np.where(item_days > 0, (item_days - n_items) / np.maximum(item_days, 1.0), 0.0)
    ii = pop.catalogue.get_indexer(items["product_id"].astype(str))
    ik = ii >= 0
    buyers, rate = np.zeros(C), np.zeros(C)
    buyers[ii[ik]] = items["item_buyers"].to_numpy(np.float64)[ik]
    rate[ii[ik]] = items["item_reorder_rate"].to_numpy(np.float64)[ik]
    prank = np.empty(C)
    prank[np.lexsort((np.arange(C), -pop.popularity))] = np.arange(1, C + 1)
    return RerankInputs(codes[order], pair, np.column_stack([n_items, orders, share]).astype(np.float32),
                        np.column_stack([np.log1p(buyers), rate, prank]).astype(np.float32))


@dataclass
class Candidates:
    u: np.ndarray      # population row, ascending (rows in (user, item) order)
    i: np.ndarray      # catalogue index
    src: np.ndarray    # source code (int8): buy_again, the family, popularity
    X: np.ndarray      # candidates x FEATURES (float32; NaN = not applicable)


def top_columns(S: np.ndarray, m: int, shift: np.ndarray | None = None, group: int = 32
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, value) of the m largest finite values of each row of T = S + shift (float32;
    ``shift`` per column, <= 0, or none): the set ``np.argpartition(T, -m)[:, -m:]`` picks,
    less its non-finite values, without adding the shift to every cell or partitioning whole
    rows. Columns j, j + G, j + 2G, ... form a group (G = columns // group); the m-th largest
    group maximum of S, less the largest shift and rounding, bounds the row's m-th largest T
    from below, so one comparison of the row against it leaves about m values to rank. A row
    whose top m is not unique (a tie at the m-th value, a NaN) or that leaves too many values
    is partitioned whole by argpartition, as it always was."""
    b, N = S.shape
    G = N // group
    none = np.zeros(0, dtype=np.int64)
    if b == 0 or m <= 0:
        return none, none, np.zeros(0, dtype=S.dtype)
    if G <= m:
        bad, r, c, v = np.arange(b), none, none, np.zeros(0, dtype=S.dtype)
    else:
        gmax = S[:, : G * group].reshape(b, group, G).max(axis=1)
        bound = np.partition(gmax, G - m, axis=1)[:, G - m]
        if shift is not None:
            # T <= S, and each of the m group maxima has T >= bound + min(shift) - rounding
            low = bound.astype(np.float64) + float(min(shift.min(), 0.0))
            low -= (np.abs(bound) + abs(float(shift.min()))) * 2.0 ** -22
            bound = np.nextafter(low.astype(S.dtype), S.dtype.type(-np.inf))
        r, c = np.divmod(np.flatnonzero(S >= bound[:, None]), N)   # 1-D: far faster than 2-D
        v = S[r, c] if shift is None else S[r, c] + shift[c]
        start = np.searchsorted(r, np.arange(b + 1))
        count = np.diff(start)
        place = np.arange(len(r)) - start[r]
        # each row's values side by side (-inf pads), for its m-th and (m+1)-th largest
        cap = 4 * m
        P = np.full((b, cap + 1), -np.inf, dtype=S.dtype)
        inside = place < cap
        P[r[inside], place[inside]] = v[inside]
        P = np.partition(P, [cap - m, cap + 1 - m], axis=1)
        kth, after = P[:, cap + 1 - m], P[:, cap - m]
        # a tie at the m-th value: which of them argpartition keeps is its own choice
        bad = np.flatnonzero((count < m) | (count > cap) | np.isnan(gmax).any(1)
                             | ((kth == after) & np.isfinite(kth)))
        keep = (v >= kth[r]) & np.isfinite(v)
        keep[np.isin(r, bad)] = False
        r, c, v = r[keep], c[keep], v[keep]
    if len(bad):
        T = S[bad] if shift is None else S[bad] + shift
        part = np.argpartition(T, N - m, axis=1)[:, N - m:]
        val = np.take_along_axis(T, part, 1)
        r_, c_ = np.nonzero(np.isfinite(val))
        r, c = np.concatenate([r, bad[r_]]), np.concatenate([c, part[r_, c_]])
        v = np.concatenate([v, val[r_, c_]])
    return r, c, v


def _sorted_find(sorted_codes: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, found) of each of ``codes`` in the sorted unique ``sorted_codes``."""
    pos = np.searchsorted(sorted_codes, codes)
    found = np.zeros(len(codes), dtype=bool)
    inside = pos < len(sorted_codes)
    found[inside] = sorted_codes[pos[inside]] == codes[inside]
    return pos, found


def candidates(pop: Population, inputs: RerankInputs, scorer: Scorer | None, R: sp.csr_matrix | None,
               lo: int, hi: int, model_candidates: int, popular_candidates: int,
               factors: np.ndarray | None = None) -> Candidates:
    """The candidates of population rows lo..hi-1 (their bought items, the family's top
    ``model_candidates`` unseen items, the ``popular_candidates`` most popular) and features.
    ``factors``: the scorer's user_factors of every row of R, when computed beforehand."""
    return candidate_features(pop, inputs, draw_candidates(
        pop, scorer, R, lo, hi, model_candidates, popular_candidates, factors))


@dataclass
class Drawn:
    """A batch's candidates before their features: the fixed ones (sorted codes user row x
    catalogue size + item, with the model's score, NaN where unscored, and source) and the
    model's new ones (codes and scores, in no order)."""
    code: np.ndarray
    score: np.ndarray
    src: np.ndarray
    model_code: np.ndarray | None = None
    model_score: np.ndarray | None = None
    family: int = -1


def draw_candidates(pop: Population, scorer: Scorer | None, R: sp.csr_matrix | None, lo: int, hi: int,
                    model_candidates: int, popular_candidates: int,
                    factors: np.ndarray | None = None) -> Drawn:
    """The scoring half of ``candidates``: which items, and the model's scores."""
    C = len(pop.catalogue)
    rows = np.arange(lo, hi)
    own = pop.bought[lo:hi].tocoo()
    head = np.lexsort((np.arange(C), -pop.popularity))[:popular_candidates]
    fu = np.concatenate([own.row + lo, np.repeat(rows, len(head))]).astype(np.int64)
    fi = np.concatenate([own.col, np.tile(head, len(rows))]).astype(np.int64)
    code, first = np.unique(fu * C + fi, return_index=True)     # own wins a duplicate
    src = np.where(first < own.nnz, _code(SOURCE_BUY_AGAIN), _code(SOURCE_POPULARITY)).astype(np.int8)
    score = np.full(len(code), np.nan, dtype=np.float32)
    drawn = Drawn(code, score, src)
    if scorer is None or R is None or not len(scorer.items):
        return drawn
    cu = code // C
    col_of_model = pop.catalogue.get_indexer(scorer.items)
    in_cat = col_of_model >= 0
    out_cat = np.flatnonzero(~in_cat)
    model_of_cat = np.full(C, -1, dtype=np.int64)
    model_of_cat[col_of_model[in_cat]] = np.flatnonzero(in_cat)
    # breaks exact ties (item-item zeros) by popularity, as model_unseen does
    tie = np.argsort(np.argsort(-pop.popularity[np.maximum(col_of_model, 0)], kind="stable"))
    tie = (-tie / max(len(tie), 1) * 1e-6).astype(np.float32)
    m = min(model_candidates, len(scorer.items))
    warm = rows[np.diff(R.indptr)[lo:hi] > 0]
    step = max(1, SCORE_CELLS // len(scorer.items))
    if factors is not None:
        F = factors[warm]
    else:
        F = scorer.user_factors(R[warm]) if len(warm) else None
    buf = np.empty((min(step, len(warm)), len(scorer.items)), dtype=np.float32)
    # the batch's bought items in model columns (never proposed as new), in row order
    b = pop.bought[lo:hi].tocoo()
    bm = model_of_cat[b.col]
    ex_row, ex_col = b.row[bm >= 0].astype(np.int64) + lo, bm[bm >= 0]
    mu, mi, ms = [], [], []
    for a in range(0, len(warm), step):
        w = warm[a:a + step]
        if F is not None:
            S = scorer.factor_scores(F[a:a + step], out=buf[: len(w)])
        else:
            S = np.asarray(scorer.score(R[w]), dtype=np.float32)
        # a score is S + tie (float32): added where it is read, not to every cell
        if len(out_cat):
            S[:, out_cat] = -np.inf
        # the model's score of this block's fixed candidates (own and popular items)
        s0, s1 = np.searchsorted(cu, [w[0], w[-1] + 1])
        loc = np.searchsorted(w, cu[s0:s1])
        mc = model_of_cat[code[s0:s1] % C]
        g = (w[np.minimum(loc, len(w) - 1)] == cu[s0:s1]) & (mc >= 0)
        block = score[s0:s1]
        block[g] = S[loc[g], mc[g]] + tie[mc[g]]
        # new items only: never one the user bought
        e0, e1 = np.searchsorted(ex_row, [w[0], w[-1] + 1])
        at = np.searchsorted(w, ex_row[e0:e1])
        hit = w[np.minimum(at, len(w) - 1)] == ex_row[e0:e1]
        S[at[hit], ex_col[e0:e1][hit]] = -np.inf
        r_, c_, v_ = top_columns(S, m, shift=tie)
        mu.append(w[r_])
        mi.append(col_of_model[c_])
        ms.append(v_)
    if mu:
        drawn.model_code = np.concatenate(mu).astype(np.int64) * C + np.concatenate(mi)
        drawn.model_score = np.concatenate(ms)
        drawn.family = _code(scorer.family)
    return drawn


def candidate_features(pop: Population, inputs: RerankInputs, drawn: Drawn) -> Candidates:
    """The features half of ``candidates``: the model's new items joined to the fixed ones,
    in (user, item) order, and every candidate's features."""
    C = len(pop.catalogue)
    code, score, src = drawn.code, drawn.score, drawn.src
    if drawn.model_code is not None:
        mcode, mscore = drawn.model_code, drawn.model_score
        # a popular candidate the model also proposes is the model's (it never is an own item)
        pos, also = _sorted_find(code, mcode)
        pop_src = np.zeros(len(code), dtype=bool)
        pop_src[pos[also]] = True
        src[pop_src & (src == _code(SOURCE_POPULARITY))] = drawn.family
        new = ~also
        code = np.concatenate([code, mcode[new]])
        score = np.concatenate([score, mscore[new]])
        src = np.concatenate([src, np.full(new.sum(), drawn.family, dtype=np.int8)])
        order = np.argsort(code, kind="stable")
        code, score, src = code[order], score[order], src[order]
    u, i = code // C, code % C
    X = np.zeros((len(code), len(FEATURES)), dtype=np.float32)
    X[:, 0] = src == _code(SOURCE_BUY_AGAIN)
    pos = np.minimum(np.searchsorted(inputs.codes, code), max(len(inputs.codes) - 1, 0))
    found = (inputs.codes[pos] == code) if len(inputs.codes) else np.zeros(len(code), dtype=bool)
    p0 = 1 + len(PAIR_FEATURES)
    X[:, 1:p0] = 0.0
    X[:, 1 + PAIR_FEATURES.index("days_since_last")] = np.nan   # never bought: no recency
    X[:, 1 + PAIR_FEATURES.index("days_since_first")] = np.nan
    X[found, 1:p0] = inputs.pair[pos[found]]
    X[:, p0:p0 + 3] = inputs.user[u]
    X[:, p0 + 3:p0 + 6] = inputs.item[i]
    X[:, -2] = score
    # the model's rank of the item among the user's candidates (unscored ones last; ties by
    # item: the rows are in (user, item) order and the sort is stable)
    order = _within_users(u, _descending_key(np.nan_to_num(score, nan=-np.inf)))
    us = u[order]
    first = np.searchsorted(us, np.arange(u[0], u[-1] + 1)) if len(u) else np.zeros(0, np.int64)
    rank = np.empty(len(code), dtype=np.float32)
    rank[order] = np.arange(len(code)) - first[us - (u[0] if len(u) else 0)] + 1
    X[:, -1] = rank
    return Candidates(u, i, src, X)


def _descending_key(values: np.ndarray) -> np.ndarray:
    """uint32 keys in the reverse order of float32 ``values`` (no NaN): equal values, equal
    keys (-0.0 as 0.0), so a stable sort by key keeps the rows' order among ties."""
    bits = (np.asarray(values, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(1 << 31))
    return ~ascending


def _within_users(u: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The order of rows by (user, key), stable: one sort of a 64-bit key (user, then the
    uint32 key) instead of a lexsort of two."""
    return np.argsort((u.astype(np.uint64) << np.uint64(32)) | key.astype(np.uint64), kind="stable")


def rank_candidates(c: Candidates, prob: np.ndarray, lo: int, hi: int, n: int) -> Lists:
    """Each user's candidates by probability (ties: catalogue order, as the rows are in
    (user, item) order and the sort is stable), the first n."""
    # probabilities as dense ranks (equal ones equal), best first, so the sort key fits 64 bits
    _, dense = np.unique(-np.asarray(prob, dtype=np.float64), return_inverse=True)
    order = _within_users(c.u, dense.astype(np.uint32))
    us = c.u[order]
    place = np.arange(len(us)) - np.searchsorted(us, np.arange(lo, hi + 1))[us - lo]
    keep = place < n
    idx = np.full((hi - lo, n), -1, dtype=np.int64)
    src = np.full((hi - lo, n), -1, dtype=np.int8)
    idx[us[keep] - lo, place[keep]] = c.i[order][keep]
    src[us[keep] - lo, place[keep]] = c.src[order][keep]
    return Lists(idx, src)


@dataclass
class Reranker:
    """A fitted re-ranker: the collaborative family whose candidates and scores it uses, the
    classifier, and what it was trained with (saved as is in a version folder)."""
    family: str
    model: object
    features: tuple[str, ...] = FEATURES
    model_candidates: int = RERANK_MODEL_CANDIDATES
    popular_candidates: int = RERANK_POPULAR_CANDIDATES
    half_lives: tuple[float, ...] = RERANK_HALF_LIVES
    importances: dict[str, float] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # in slices of rows: each row's probability is its own, and the classifier's copy of
        # a slice stays small
        if not len(X):
            return np.zeros(0)
        with threadpool_limits(RERANK_THREADS, "openmp"):
            return np.concatenate([self.model.predict_proba(X[a:a + RERANK_PREDICT_ROWS])[:, 1]
                                   for a in range(0, len(X), RERANK_PREDICT_ROWS)])


def fit_classifier(X: np.ndarray, y: np.ndarray, params: Params):
    """Gradient-boosted trees on the candidates (sklearn's defaults for depth and learning
    rate; early stopping on a 10 % validation share of the candidates; fixed seed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if y.all() or not y.any():
        raise NotEnoughHistory("the re-ranker's candidates hold no positive (or no negative) example")
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, validation_fraction=0.1,
                                         n_iter_no_change=10, random_state=params.seed)
    with threadpool_limits(RERANK_THREADS, "openmp"):
        clf.fit(X, y)
    return clf


def feature_importances(clf, X: np.ndarray, y: np.ndarray, params: Params,
                        max_rows: int = 50_000) -> dict[str, float]:
    """Permutation importance: the drop in average precision when one feature is shuffled
    (on at most ``max_rows`` of the training candidates)."""
    from sklearn.inspection import permutation_importance
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(params.seed)
    take = rng.choice(len(y), min(len(y), max_rows), replace=False)
    if not y[take].any():
        return {}
    with threadpool_limits(RERANK_THREADS, "openmp"):
        imp = permutation_importance(clf, X[take], y[take], scoring="average_precision", n_repeats=2,
                                     random_state=params.seed)
    return {f: round(float(v), 5) for f, v in zip(FEATURES, imp.importances_mean, strict=True)}


def row_factors(scorer: Scorer | None, R: sp.csr_matrix | None) -> np.ndarray | None:
    """The scorer's user_factors of every row of R (zeros for empty rows), in one call: each
    user's are their own, and the call's fixed cost is paid once. None: no factors (no scorer,
    or a family that scores rows directly)."""
    if scorer is None or R is None or not len(scorer.items):
        return None
    warm = np.flatnonzero(np.diff(R.indptr) > 0)
    F = scorer.user_factors(R[warm]) if len(warm) else None
    if F is None:
        return None
    factors = np.zeros((R.shape[0], F.shape[1]), dtype=F.dtype)
    factors[warm] = F
    return factors


def rerank_lists(pop: Population, inputs: RerankInputs, scorer: Scorer | None, R: sp.csr_matrix | None,
                 reranker: Reranker, fill: Lists, n: int, batch_users: int = RERANK_BATCH_USERS,
                 factors: np.ndarray | None = None) -> Lists:
    """Top n of every user of ``pop`` by the re-ranker, in batches of users (bounded memory);
    ``fill`` (popularity of unseen items) completes short lists. ``factors``: row_factors(scorer,
    R), when computed beforehand."""
    from concurrent.futures import ThreadPoolExecutor

    U = len(pop.users)
    idx = np.full((U, n), -1, dtype=np.int64)
    src = np.full((U, n), -1, dtype=np.int8)

    def ranked(lo: int, hi: int, drawn: Drawn) -> None:
        c = candidate_features(pop, inputs, drawn)
        if len(c.u) > RERANK_PREDICT_ROWS:
            # each row's probability is its own: half the rows in a second thread
            half = len(c.u) // 2
            other = helper.submit(reranker.predict, c.X[half:])
            prob = np.concatenate([reranker.predict(c.X[:half]), other.result()])
        else:
            prob = reranker.predict(c.X) if len(c.u) else np.zeros(0)
        part = rank_candidates(c, prob, lo, hi, n)
        idx[lo:hi], src[lo:hi] = part.idx, part.src

    if factors is None:
        factors = row_factors(scorer, R)
    # while the model scores a batch's users (BLAS), two more threads give the previous batch
    # its features and the classifier's ranking (numpy and OpenMP, outside the GIL), so both
    # cores stay busy to the end; two batches in memory at most
    with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(1) as helper:
        pending = None
        for lo in range(0, U, batch_users):
            hi = min(U, lo + batch_users)
            drawn = draw_candidates(pop, scorer, R, lo, hi, reranker.model_candidates,
                                    reranker.popular_candidates, factors)
            if pending is not None:
                pending.result()
            pending = pool.submit(ranked, lo, hi, drawn)
        if pending is not None:
            pending.result()
    return blend(Lists(idx, src), fill, n, n)


def train_reranker(pop: Population, inputs: RerankInputs, scorer: Scorer | None, R: sp.csr_matrix | None,
                   truth_codes: np.ndarray, fill: Lists, family: str, params: Params
                   ) -> tuple[Reranker, Lists, tuple[np.ndarray, np.ndarray]]:
    """On a split with truth: the re-ranker fitted on all its users, its lists by
    cross-fitting (each fold of users ranked by a classifier that never saw them, so the
    figure is out-of-sample), and the training data (X, y)."""
    C, U, n = len(pop.catalogue), len(pop.users), params.n
    c = candidates(pop, inputs, scorer, R, 0, U, params.rerank_model_candidates,
                   params.rerank_popular_candidates)
    y = np.isin(c.u.astype(np.int64) * C + c.i, truth_codes)
    fold = np.random.default_rng(params.seed).permutation(U) % RERANK_FOLDS
    prob = np.zeros(len(y))
    for k in range(RERANK_FOLDS):
        test = fold[c.u] == k
        prob[test] = Reranker(family, fit_classifier(c.X[~test], y[~test], params)).predict(c.X[test])
    clf = fit_classifier(c.X, y, params)
    reranker = Reranker(family, clf, model_candidates=params.rerank_model_candidates,
                        popular_candidates=params.rerank_popular_candidates,
                        importances=feature_importances(clf, c.X, y, params))
    return reranker, blend(rank_candidates(c, prob, 0, U, n), fill, n, n), (c.X, y)


def split_candidates(data: SplitData, users: Sequence[str], family: str, params: Params
                     ) -> tuple[Population, Candidates]:
    """The re-ranker's candidates and features for ``users`` at a split's cutoff, with
    ``family`` fitted on the split's window (what the evaluation builds; for tests)."""
    from profiling_assets.factorization import build_matrix

    pop = population(users, data.interactions, data.purchases)
    m = build_matrix(data.interactions, min_item_users=params.min_item_users)
    scorer = fit_family(family, m.X, m.items, params)
    R = model_rows(pop, data.interactions, m.items)
    inputs = rerank_inputs(pop, data.rerank_pairs, data.rerank_items)
    return pop, candidates(pop, inputs, scorer, R, 0, len(pop.users), params.rerank_model_candidates,
                           params.rerank_popular_candidates)


def refit_reranker(reranker: Reranker, X: np.ndarray, y: np.ndarray, params: Params) -> Reranker:
    """The same re-ranker refitted on newer candidates (the outer split's, for the saved
    version); its importances stay those of the evaluated fit."""
    return Reranker(reranker.family, fit_classifier(X, y, params), reranker.features,
                    reranker.model_candidates, reranker.popular_candidates, reranker.half_lives,
                    dict(reranker.importances))


# --------------------------------------------------------------------------- metrics


def user_recalls(lists: Lists, truth_codes: np.ndarray, relevant: np.ndarray,
                 catalogue_size: int) -> np.ndarray:
    """recall@n of each user with relevant items (the per-user values list_metrics averages)."""
    codes = np.arange(lists.idx.shape[0])[:, None] * np.int64(catalogue_size) + lists.idx
    hits = (np.isin(codes, truth_codes) & (lists.idx >= 0)).sum(1)
    has = relevant > 0
    return hits[has] / relevant[has]


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS,
                     level: float = BOOTSTRAP_LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """(mean of a - b, lower, upper bound of its two-sided ``level`` interval) over users
    resampled with replacement: whether a gain in mean recall is more than the luck of which
    users happened to buy in the horizon."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    if not len(diff):
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(draws)
    for lo in range(0, draws, 200):  # bounded memory: 200 resamples of the users at a time
        k = min(200, draws - lo)
        means[lo:lo + k] = diff[rng.integers(0, len(diff), size=(k, len(diff)))].mean(1)
    tail = (1 - level) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def list_metrics(lists: Lists, truth_codes: np.ndarray, relevant: np.ndarray, catalogue_size: int,
                 n: int) -> dict[str, float]:
    """recall, NDCG, hit rate @n over users with relevant > 0, and catalogue coverage."""
    U, C = lists.idx.shape[0], catalogue_size
    codes = np.arange(U)[:, None] * np.int64(C) + lists.idx
    hits = np.isin(codes, truth_codes) & (lists.idx >= 0)
    has = relevant > 0
    discount = 1.0 / np.log2(np.arange(2, n + 2))
    ideal = np.cumsum(discount)[np.minimum(relevant, n) - 1]
    recall = hits.sum(1) / np.maximum(relevant, 1)
    ndcg = (hits * discount).sum(1) / np.where(has, ideal, 1.0)
    covered = np.unique(lists.idx[lists.idx >= 0]).size
    return {"recall": float(recall[has].mean()) if has.any() else 0.0,
            "ndcg": float(ndcg[has].mean()) if has.any() else 0.0,
            "hit_rate": float(hits.any(1)[has].mean()) if has.any() else 0.0,
            "coverage": covered / C if C else 0.0}


@dataclass
class SplitEval:
    users: int
    reorder_share: float                    # share of truth (user, item) pairs already bought
    lists: dict[str, Lists]                 # recommender -> lists
    metrics: dict[str, dict[str, float]]    # recommender -> metric -> value
    slots: dict[str, tuple[int, str]]       # family -> (buy-again places, tail) used
    sweep: dict[str, list[float]]           # family -> recall at places 0..n, model tail
    rerank: Reranker | None = None          # inner: fitted here; outer: the one applied
    rerank_train: tuple[np.ndarray, np.ndarray] | None = None   # candidates (X, y) of the split
    recalls: dict[str, np.ndarray] = field(default_factory=dict)  # recommender -> per-user recall


def evaluate_split(data: SplitData, params: Params, *, slots: dict[str, int] | None = None,
                   rerank: Reranker | None = None,
                   log: Callable[[str], None] = lambda s: None) -> SplitEval:
    """Rank every evaluated user of one split with the baselines and every family. Without
    ``slots`` (the inner split) each family's buy-again slots are swept 0..n and the best kept,
    and the re-ranker is trained (on the family with the best discovery: recall with no
    buy-again place); with ``slots`` (the outer split) those are used as given, and ``rerank``
    ranks this split's candidates."""
    n = params.n
    known = set(data.interactions["user_id"]) | set(data.purchases["user_id"])
    truth = data.truth[data.truth["user_id"].isin(known)].drop_duplicates(["user_id", "product_id"])
    users = sorted(set(truth["user_id"]))
    if len(users) < MIN_EVAL_USERS:
        raise NotEnoughHistory(
            f"only {len(users)} user(s) with history before {data.cutoff} buy in the horizon "
            f"from {data.cutoff} (at least {MIN_EVAL_USERS} are needed)")
    pop = population(users, data.interactions, data.purchases)
    C = len(pop.catalogue)
    u_of = pd.Index(pop.users).get_indexer(truth["user_id"])
    i_of = pop.catalogue.get_indexer(truth["product_id"])
    relevant = np.bincount(u_of, minlength=len(users))
    inside = i_of >= 0
    truth_codes = np.unique(u_of[inside].astype(np.int64) * C + i_of[inside])
    bought_codes = pop.bought.tocoo()
    bought_set = np.unique(bought_codes.row.astype(np.int64) * C + bought_codes.col)
    reorder_share = float(np.isin(truth_codes, bought_set).sum() / max(1, len(truth)))

    pu = popularity_unseen(pop, n)
    again = buy_again_items(pop, n)
    lists: dict[str, Lists] = {
        "popularity_unseen": pu, "popularity": popularity_plain(pop, n),
        "buy_again": blend(again, pu, n, n)}
    from profiling_assets.factorization import build_matrix

    m = build_matrix(data.interactions, min_item_users=params.min_item_users)
    R = None
    chosen, sweep, scorers = {}, {}, {}
    for family in params.families:
        try:
            scorer = fit_family(family, m.X, m.items, params)
        except NotEnoughHistory as exc:
            log(f"{family}: not fitted: {exc}")
            continue
        scorers[family] = scorer
        if R is None:
            R = model_rows(pop, data.interactions, m.items)
        unseen = model_unseen(pop, scorer, R, pu, n)
        tails = {TAIL_MODEL: unseen, TAIL_POPULARITY: pu}
        if slots is None:
            # every (places for buy-again, what fills the rest); ties keep the earlier config:
            # fewer buy-again places, and the model before popularity
            grid = [(s, t) for t in (TAIL_MODEL, TAIL_POPULARITY) for s in range(n + 1)]
            recalls = [list_metrics(blend(again, tails[t], s, n, pu), truth_codes, relevant, C, n)["recall"]
                       for s, t in grid]
            sweep[family] = recalls[: n + 1]
            chosen[family] = grid[int(np.argmax(recalls))]
        else:
            chosen[family] = slots.get(family, (0, TAIL_MODEL))
        s_, t_ = chosen[family]
        lists[family] = blend(again, tails[t_], s_, n, pu)
    fitted_rr, train = rerank, None
    if params.rerank and data.rerank_pairs is not None and (scorers or rerank is not None):
        inputs = rerank_inputs(pop, data.rerank_pairs, data.rerank_items)
        if rerank is None:
            family = max(scorers, key=lambda f: sweep[f][0])   # ties: the first family
            try:
                fitted_rr, lists[RERANKED], train = train_reranker(
                    pop, inputs, scorers[family], R, truth_codes, pu, family, params)
            except NotEnoughHistory as exc:
                log(f"{RERANKED}: not fitted: {exc}")
        else:
            c = candidates(pop, inputs, scorers.get(rerank.family), R, 0, len(users),
                           rerank.model_candidates, rerank.popular_candidates)
            train = (c.X, np.isin(c.u.astype(np.int64) * C + c.i, truth_codes))
            prob = rerank.predict(c.X) if len(c.u) else np.zeros(0)
            lists[RERANKED] = blend(rank_candidates(c, prob, 0, len(users), n), pu, n, n)
    metrics = {name: list_metrics(lst, truth_codes, relevant, C, n) for name, lst in lists.items()}
    recalls = {name: user_recalls(lst, truth_codes, relevant, C) for name, lst in lists.items()}
    return SplitEval(len(users), reorder_share, lists, metrics, chosen, sweep, fitted_rr, train,
                     recalls)


# --------------------------------------------------------------------------- the protocol


@dataclass
class Outcome:
    plan: Plan
    inner: SplitEval
    outer: SplitEval
    winner: str                 # the family chosen on the inner split
    slots: int                  # its buy-again places (0 for the re-ranker)
    tail: str                   # what fills its other places (RERANKED for the re-ranker)
    strongest_baseline: str     # on the outer split, by recall@n
    metrics: dict[str, float]   # flat, for the registry
    table: list[list]           # recommender x metrics (outer split)

    def scored(self) -> list[tuple[str, str, float, float]]:
        """(recommender, role, recall@n, NDCG@n) of every recommender the outer split scored:
        the baselines first, then the candidates in the order they were evaluated."""
        names = [*BASELINES, *(name for name in self.outer.metrics if name not in BASELINES)]
        return [(name, "winner" if name == self.winner else
                 "strongest baseline" if name == self.strongest_baseline else
                 "baseline" if name in BASELINES else "candidate",
                 float(self.outer.metrics[name]["recall"]), float(self.outer.metrics[name]["ndcg"]))
                for name in names if name in self.outer.metrics]


def _label(name: str, slots: dict[str, tuple[int, str]], n: int, rerank: Reranker | None = None) -> str:
    if name == RERANKED and rerank is not None:
        return (f"{name}: per user, by a classifier, over bought + {rerank.family} top "
                f"{rerank.model_candidates} + popular {rerank.popular_candidates}")
    if name in slots:
        s, tail = slots[name]
        return f"{name}: buy_again {s} of {n} places, then {'the model' if tail == TAIL_MODEL else 'popularity'}"
    return name


@dataclass
class ProtocolData:
    plan: Plan
    inner: SplitData
    outer: SplitData


def read_protocol(con: duckdb.DuckDBPyConnection, params: Params,
                  log: Callable[[str], None] = lambda s: None) -> ProtocolData:
    """Plan the splits and read both (the only part that needs the warehouse);
    NotEnoughHistory when the history is too short."""
    first, last = sql.query(con, "select_clean_event_days")[0]
    if last is None:
        raise NotEnoughHistory("clean.events is empty: materialize cleaned_events first")
    horizon, outer_cut, inner_cut = plan_splits(first, last, params.horizon_days)
    window, why, stats = choose_window(con, params, first, outer_cut)
    plan = Plan(first, last, horizon, outer_cut, inner_cut, window, why, stats)
    log(f"horizon {horizon} days; outer split {outer_cut}, inner split {inner_cut}; window {why}")
    return ProtocolData(plan, read_split(con, inner_cut, horizon, window, params, first),
                        read_split(con, outer_cut, horizon, window, params, first))


def evaluate(con: duckdb.DuckDBPyConnection, params: Params,
             log: Callable[[str], None] = lambda s: None) -> Outcome:
    """The whole protocol on clean.events; NotEnoughHistory when it cannot run."""
    return run_protocol(read_protocol(con, params, log), params, log)


def run_protocol(data: ProtocolData, params: Params,
                 log: Callable[[str], None] = lambda s: None) -> Outcome:
    """Inner split: learn each family's blend and pick the family; outer split: score every
    recommender with those settings, against the strongest baseline."""
    plan = data.plan
    horizon, window, outer_cut, inner_cut = plan.horizon, plan.window, plan.outer_cutoff, plan.inner_cutoff
    inner = evaluate_split(data.inner, params, log=log)
    fitted = [f for f in params.families if f in inner.slots]
    if not fitted:
        raise NotEnoughHistory(f"no model family could be fitted before {inner_cut}")
    n = params.n

    def key(name: str, ev: SplitEval) -> tuple[float, float]:
        return ev.metrics[name]["recall"], ev.metrics[name]["ndcg"]

    if RERANKED in inner.metrics:
        fitted.append(RERANKED)
    winner = max(fitted, key=lambda f: key(f, inner))
    outer = evaluate_split(data.outer, params, slots=inner.slots, rerank=inner.rerank, log=log)
    strongest = max(BASELINES, key=lambda b: key(b, outer))
    M = outer.metrics
    best = M[strongest]["recall"]
    flat: dict[str, float | str | int] = {}
    for name, vals in M.items():
        for metric, value in vals.items():
            flat[f"{name}_{metric}_at_{n}"] = value
    head = M.get(winner, {"recall": 0.0, "ndcg": 0.0, "hit_rate": 0.0, "coverage": 0.0})
    flat |= {f"recall_at_{n}": head["recall"], f"ndcg_at_{n}": head["ndcg"],
             f"hit_rate_at_{n}": head["hit_rate"], f"coverage_at_{n}": head["coverage"],
             "winner": winner, "buy_again_slots": inner.slots.get(winner, (0, RERANKED))[0],
             "blend_tail": inner.slots.get(winner, (0, RERANKED))[1],
             "strongest_baseline": strongest, "strongest_baseline_recall_at_10": best,
             "lift_over_strongest_baseline": _ratio(head["recall"], best),
             "reorder_share": inner.reorder_share, "reorder_share_eval": outer.reorder_share,
             "eval_users": outer.users, "inner_eval_users": inner.users,
             "window_days": window, "horizon_days": horizon,
             "eval_split_day": outer_cut.isoformat(), "inner_split_day": inner_cut.isoformat()}
    for b in BASELINES:
        flat[f"lift_over_{b}"] = _ratio(head["recall"], M[b]["recall"])
    if winner in outer.recalls:
        gain, low, high = paired_bootstrap(outer.recalls[winner], outer.recalls[strongest],
                                           seed=params.seed)
        flat |= {"recall_gain_over_strongest": gain, "recall_gain_ci_low": low,
                 "recall_gain_ci_high": high, "recall_gain_ci_level": BOOTSTRAP_LEVEL}
    for f in fitted:
        if f in inner.slots:
            flat[f"{f}_buy_again_slots"] = inner.slots[f][0]
            flat[f"{f}_blend_tail"] = inner.slots[f][1]
        flat[f"{f}_inner_recall_at_{n}"] = inner.metrics[f]["recall"]
    if inner.rerank is not None:
        flat[f"{RERANKED}_family"] = inner.rerank.family
        for feature, value in inner.rerank.importances.items():
            flat[f"{RERANKED}_importance_{feature}"] = value
    table = []
    for name in (*BASELINES, *fitted):
        v = M[name]
        table.append([_label(name, inner.slots, n, inner.rerank) + (" (winner)" if name == winner else ""),
                      f"{v['recall']:.4f}", f"{v['ndcg']:.4f}", f"{v['hit_rate']:.4f}",
                      f"{v['coverage']:.3f}", f"{_ratio(v['recall'], best):.2f}",
                      f"{inner.metrics[name]['recall']:.4f}"])
    return Outcome(plan, inner, outer, winner, *inner.slots.get(winner, (0, RERANKED)), strongest,
                   flat, table)


TABLE_HEADER = ["recommender", "recall@10", "NDCG@10", "hit rate@10", "coverage",
                "x strongest baseline", "inner-split recall@10"]


def _ratio(a: float, b: float) -> float:
    return a / b if b else (math.inf if a > 0 else 0.0)


# --------------------------------------------------------------------------- daily ranking


def recommend(users: Sequence[str], interactions: pd.DataFrame, purchases: pd.DataFrame, *, n: int,
              scorer: Scorer | None = None, slots: int = 0, tail: str = TAIL_MODEL,
              baseline: str = "buy_again", reranker: Reranker | None = None,
              rerank_pairs: pd.DataFrame | None = None, rerank_items: pd.DataFrame | None = None,
              rerank_read: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None,
              ) -> tuple[Population, Lists]:
    """Top n for every user: with a reranker (and its inputs, select_rerank_* as of the day),
    each user's candidates by its probability; with a scorer alone, the learnt blend
    (buy-again places, then the model's unseen items; popularity for users it does not know);
    without either, ``baseline``. ``rerank_read``, in place of rerank_pairs and rerank_items:
    gives them when they are first needed (a read that runs meanwhile)."""
    if reranker is not None:
        from concurrent.futures import ThreadPoolExecutor

        # the model's rows and user factors (pyarrow, scipy, implicit: mostly outside the GIL)
        # are built in a second thread while this one builds the population
        ids = np.asarray(sorted(set(users)), dtype=object)

        def rows() -> tuple[sp.csr_matrix | None, np.ndarray | None]:
            R = _rows_of(ids, interactions, scorer.items) if scorer is not None else None
            return R, row_factors(scorer, R)

        with ThreadPoolExecutor(1) as side:
            model = side.submit(rows)
            pop = population(ids, interactions, purchases)
            pu = popularity_unseen(pop, n)
            if rerank_read is not None:
                rerank_pairs, rerank_items = rerank_read()
            inputs = rerank_inputs(pop, rerank_pairs, rerank_items)
            R, factors = model.result()
        return pop, rerank_lists(pop, inputs, scorer, R, reranker, pu, n, factors=factors)
    pop = population(users, interactions, purchases)
    pu = popularity_unseen(pop, n)
    if baseline == "popularity" and scorer is None:
        return pop, popularity_plain(pop, n)
    if baseline == "popularity_unseen" and scorer is None:
        return pop, pu
    again = buy_again_items(pop, n)
    if scorer is None:
        return pop, blend(again, pu, n, n)
    unseen = pu
    if tail == TAIL_MODEL:
        unseen = model_unseen(pop, scorer, model_rows(pop, interactions, scorer.items), pu, n)
    return pop, blend(again, unseen, slots, n, pu)
