"""Customer segments, the model: k-means over behaviour, SVD factors and text interests, and
the assignment of users to the fitted segments. Plain Python over DuckDB reads, numpy and
scikit-learn, with no Dagster; the assets ``segment_model`` and ``user_segments``
(segments.py) read, call these, write and report.

The input space (the same for fitting and assignment, saved with the model):

- behaviour: the BEHAVIOUR features of features.user_features, transformed (log1p where
  heavy-tailed), imputed by fixed rules (see ``behaviour_frame``) and z-scored;
- factors: the user's most recent SVD factors (ml.user_factors) of the svd_model version
  the segment model was fitted with, within the 90-day features window, z-scored per
  component; a user without factors sits at the block's mean (zeros after centring);
- text: the user's interest vector (ml.user_text_profile, latest day) reduced by PCA to a
  few whitened components; a user without text sits at zeros likewise.

Each block is multiplied by ``weight * sqrt(d_behaviour / d_block)``, so that a block's
total variance is weight^2 times the behaviour block's whatever its width: the weights say
how much each source counts, not how many columns it happens to have.

Segment ids stay stable across refits: new centroids are matched to the previous
production version's by the Hungarian method on their distance in the behaviour features
(named, so comparable across versions; the factor and text axes are refitted each time and
carry no shared meaning). Names come from the behaviour centroid by ``segment_name``.
"""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score

from profiling_assets import registry, settings, sql

FALLBACK_NAME = "Occasional buyers"

# Behaviour features: name -> (raw column shown in descriptions, phrase). Transformations
# and imputation are in behaviour_frame.
BEHAVIOUR = {
    "recency": ("days_since_last_visit", "last seen {s:.1f} days ago vs {p:.1f}"),
    "recent_share": ("recent_share", "{s:.0%} of events in the last 7 days vs {p:.0%}"),
    "frequency": ("active_days_90d", "active on {s:.1f} days vs {p:.1f}"),
    "events": ("events_90d", "{s:.0f} events vs {p:.0f}"),
    "orders": ("orders_90d", "{s:.1f} orders vs {p:.1f}"),
    "monetary": ("revenue_90d", "spends {r:.1f}x the average"),
    "aov": ("aov_90d", "average order {s:.0f} vs {p:.0f}"),
    "tenure": ("tenure_days", "registered {s:.0f} days ago vs {p:.0f}"),
    "view_to_cart": ("view_to_cart_90d", "carts {s:.0%} of views vs {p:.0%}"),
    "cart_to_purchase": ("cart_to_purchase_90d", "buys {s:.0%} of carts vs {p:.0%}"),
    "price_ratio": ("price_ratio_90d", "pays {s:.2f}x the category median price vs {p:.2f}x"),
    "below_median_share": ("share_below_median_90d",
                           "{s:.0%} of purchases below the category median vs {p:.0%}"),
    "category_focus": ("top_category_share", "{s:.0%} of activity in one category vs {p:.0%}"),
}
# The clustered features: one per behavioural dimension (recency, frequency, purchasing,
# newness, funnel, price level, breadth). The others are near-duplicates of these (events ~
# active days, revenue ~ orders x AOV, share below median ~ price ratio, cart -> purchase ~
# view -> cart) and only add weight to the dimensions they repeat; they still name and
# describe the segments. See docs/segments.md for the comparison.
FEATURES = ("recency", "frequency", "orders", "tenure", "view_to_cart", "price_ratio",
            "category_focus")
DESCRIBED = tuple(BEHAVIOUR)


# --------------------------------------------------------------------------- inputs


def behaviour_frame(raw: pd.DataFrame, tenure_cap_days: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(transformed features, raw display values, imputed counts) of select_segment_features
    rows. Imputation rules, each a neutral or factual value:
    - aov: no orders -> log1p(0) (no spend); price_ratio: no priced purchase -> log2(1) = 0
      (pays the median); below_median_share: -> 0.5 (no lean either way);
    - view_to_cart / cart_to_purchase: no views / carts -> 0 (no conversion observed);
    - tenure: not registered -> days since first seen in the window (a lower bound); capped
      at ``tenure_cap_days`` (the features window);
    - category_focus: -> 0."""
    def col(name: str) -> pd.Series:
        return pd.to_numeric(raw[name], errors="coerce").astype(float)

    events_90d = col("events_90d")
    recent = (col("events_7d") / events_90d.where(events_90d > 0)).fillna(0.0)
    tenure = col("tenure_days")
    imputed = {"aov": int(col("aov_90d").isna().sum()), "tenure": int(tenure.isna().sum()),
               "price_ratio": int(col("price_ratio_90d").isna().sum()),
               "below_median_share": int(col("share_below_median_90d").isna().sum()),
               "view_to_cart": int(col("view_to_cart_90d").isna().sum()),
               "cart_to_purchase": int(col("cart_to_purchase_90d").isna().sum()),
               "category_focus": int(col("top_category_share").isna().sum())}
    # newness is what tenure tells apart: beyond the features window more years add nothing
    tenure = tenure.fillna(col("days_since_first_seen")).clip(lower=0, upper=tenure_cap_days)
    X = pd.DataFrame({
        "recency": np.log1p(col("days_since_last_visit").clip(lower=0)),
        "recent_share": recent,
        "frequency": np.log1p(col("active_days_90d")),
        "events": np.log1p(events_90d),
        "orders": np.log1p(col("orders_90d")),
        "monetary": np.log1p(col("revenue_90d").clip(lower=0)),
        "aov": np.log1p(col("aov_90d").fillna(0.0).clip(lower=0)),
        "tenure": np.log1p(tenure),
        "view_to_cart": col("view_to_cart_90d").fillna(0.0),
        "cart_to_purchase": col("cart_to_purchase_90d").fillna(0.0),
        "price_ratio": np.log2(col("price_ratio_90d").clip(lower=1e-3)).fillna(0.0),
        "below_median_share": col("share_below_median_90d").fillna(0.5),
        "category_focus": col("top_category_share").fillna(0.0),
    }, columns=list(DESCRIBED))
    X = X.fillna(0.0)  # only NOT NULL columns are left; belt and braces
    display = pd.DataFrame({name: (recent if column == "recent_share" else col(column))
                            for name, (column, _) in BEHAVIOUR.items()})
    return X, display, {k: v for k, v in imputed.items() if v}


@dataclass
class Inputs:
    users: np.ndarray              # user ids, sorted
    behaviour: pd.DataFrame        # transformed DESCRIBED features (rows = users)
    display: pd.DataFrame          # raw values behind them (NaN where missing)
    factors: np.ndarray            # users x k, NaN rows: no factors
    text: np.ndarray               # users x dim, NaN rows: no interest vector
    imputed: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> frozenset[str]:
        """Described features the data has no value of for anyone (no views, no categories,
        no prices...): imputed for all, so they cannot name a segment. Tenure falls back to
        days since first seen, which still tells newness apart."""
        return frozenset(f for f in DESCRIBED if f != "tenure" and self.display[f].isna().all())

    @property
    def has_factors(self) -> np.ndarray:
        return ~np.isnan(self.factors).any(axis=1) if self.factors.shape[1] else np.zeros(len(self.users), bool)

    @property
    def has_text(self) -> np.ndarray:
        return ~np.isnan(self.text).any(axis=1) if self.text.shape[1] else np.zeros(len(self.users), bool)


def _vectors(table: pa.Table, column: str, users: np.ndarray) -> np.ndarray:
    """A users x dim matrix of a list column, NaN rows for users absent from the table."""
    if table.num_rows == 0:
        return np.zeros((len(users), 0))
    flat = table[column].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    values = flat.astype(np.float64).reshape(table.num_rows, -1)
    out = np.full((len(users), values.shape[1]), np.nan)
    at = pd.Index(users).get_indexer(table["user_id"].to_pylist())
    ok = at >= 0
    out[at[ok]] = values[ok]
    return out


def read_inputs(con: duckdb.DuckDBPyConnection, day: date, svd_version: str | None,
                text_version: str | None, window_days: int) -> Inputs:
    """Every user of user_features on ``day`` with their factors and interest vector.
    ``window_days`` is the features window (features.WINDOW_DAYS): the factor lookback and
    the tenure cap."""
    raw = sql.run(con, "select_segment_features", day=day).df()
    users = raw["user_id"].to_numpy().astype(str)
    behaviour, display, imputed = behaviour_frame(raw, window_days)
    first = day - timedelta(days=window_days - 1)
    fac = (sql.arrow(con, "select_segment_user_factors", version=svd_version, first_day=first,
                     day=day) if svd_version else pa.table({"user_id": []}))
    txt = (sql.arrow(con, "select_segment_text_profile", version=text_version, day=day)
           if text_version else pa.table({"user_id": []}))
    return Inputs(users, behaviour, display, _vectors(fac, "factors", users),
                  _vectors(txt, "interest", users), imputed)


# --------------------------------------------------------------------------- the space


def _std(x: np.ndarray) -> np.ndarray:
    s = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    return np.where(s > 1e-12, s, 1.0)


@dataclass
class Space:
    """The fitted transformation from Inputs to the clustering space."""

    behaviour_mean: np.ndarray
    behaviour_scale: np.ndarray
    factor_mean: np.ndarray        # empty without a factor block
    factor_scale: np.ndarray
    text_mean: np.ndarray          # PCA centre (dim), empty without a text block
    text_components: np.ndarray    # n x dim
    text_scale: np.ndarray         # sqrt of the components' variances (whitening)
    weights: dict[str, float]
    features: tuple[str, ...] = FEATURES  # behaviour columns, in the order of the means

    def block_multipliers(self) -> tuple[float, float, float]:
        d = len(self.behaviour_mean)
        f, t = len(self.factor_mean), len(self.text_scale)
        return (self.weights["behaviour"],
                self.weights["factors"] * np.sqrt(d / f) if f else 0.0,
                self.weights["text"] * np.sqrt(d / t) if t else 0.0)

    def z_behaviour(self, behaviour: pd.DataFrame) -> np.ndarray:
        return (behaviour[list(self.features)].to_numpy(float) - self.behaviour_mean) / self.behaviour_scale

    def transform(self, inputs: Inputs) -> np.ndarray:
        wb, wf, wt = self.block_multipliers()
        blocks = [self.z_behaviour(inputs.behaviour) * wb]
        if len(self.factor_mean):
            F = np.zeros((len(inputs.users), len(self.factor_mean)))
            if inputs.factors.shape[1] == len(self.factor_mean):
                ok = inputs.has_factors
                F[ok] = (inputs.factors[ok] - self.factor_mean) / self.factor_scale
            blocks.append(F * wf)
        if len(self.text_scale):
            T = np.zeros((len(inputs.users), len(self.text_scale)))
            if inputs.text.shape[1] == len(self.text_mean):
                ok = inputs.has_text
                T[ok] = ((inputs.text[ok] - self.text_mean) @ self.text_components.T) / self.text_scale
            blocks.append(T * wt)
        return np.hstack(blocks)


def fit_space(inputs: Inputs, weights: dict[str, float], text_components: int, seed: int
              ) -> tuple[Space, dict]:
    """Scalers and PCA fitted on the users that have each block; a block with a zero
    weight or no data is left out."""
    B = inputs.behaviour[list(FEATURES)].to_numpy(float)
    info: dict = {}
    fm = fs = np.zeros(0)
    ok = inputs.has_factors
    if weights.get("factors", 0) > 0 and ok.sum() >= 2:
        fm, fs = inputs.factors[ok].mean(axis=0), _std(inputs.factors[ok])
    tm, tc, ts = np.zeros(0), np.zeros((0, 0)), np.zeros(0)
    ok_t = inputs.has_text
    n = min(text_components, int(ok_t.sum()) - 1, inputs.text.shape[1])
    if weights.get("text", 0) > 0 and n >= 1:
        pca = PCA(n_components=n, random_state=seed).fit(inputs.text[ok_t])
        tm, tc = pca.mean_, pca.components_
        ts = np.sqrt(np.maximum(pca.explained_variance_, 1e-12))
        info["text_explained_variance"] = float(pca.explained_variance_ratio_.sum())
    return Space(B.mean(axis=0), _std(B), fm, fs, tm, tc, ts, dict(weights)), info


# --------------------------------------------------------------------------- names


def _rules(z: dict[str, float]) -> list[tuple[str, float, float]]:
    """(name, score, threshold) per name: the score is the centroid's standardized deviation
    that defines the name (higher = more typical)."""
    return [
        ("New", -z["tenure"], 1.0),
        ("Lapsing", max(z["recency"], -z["recent_share"]), 1.0),
        # browse but barely buy: few orders while still browsing
        ("Window shoppers", -z["orders"] if z["events"] > -1.0 else -np.inf, 1.0),
        ("High-value loyal", z["monetary"] if z["frequency"] >= 0 else -np.inf, 0.75),
        ("Bargain hunters", max(z["below_median_share"], -z["price_ratio"]), 0.75),
        ("Category specialists", z["category_focus"], 0.75),
    ]


def segment_name(z: dict[str, float]) -> tuple[str, float]:
    """The archetype name of a segment from its standardized behaviour centroid: among the
    rules whose score reaches their threshold, the one with the highest score; none ->
    (FALLBACK_NAME, -inf)."""
    best = (FALLBACK_NAME, -np.inf)
    for name, score, threshold in _rules(z):
        if score >= threshold and score > best[1]:
            best = (name, score)
    return best


# Words for what sets a segment apart: feature -> (word when above average, word when below).
# Adjectives precede the noun; ``None`` leaves that direction unnamed (it says nothing useful).
TRAIT_WORDS: dict[str, tuple[str | None, str | None]] = {
    "recency": ("long-absent", "recently active"),
    "recent_share": ("newly busy", "quietening"),
    "frequency": ("frequent", "infrequent"),
    "events": ("busy", "low-activity"),
    "orders": ("repeat", "one-time"),
    "monetary": ("big-spending", "low-spending"),
    "aov": ("big-basket", "small-basket"),
    "tenure": ("long-standing", "new"),
    "view_to_cart": ("decisive", "hesitant"),
    "cart_to_purchase": ("checkout-completing", "cart-abandoning"),
    "price_ratio": ("premium", "budget"),
    "below_median_share": ("bargain-seeking", "full-price"),
    "category_focus": ("single-category", "broad-range"),
}
# A deviation smaller than this (in standard deviations) is not a trait worth naming.
TRAIT_MIN_Z = 0.25


def _noun(z: dict[str, float]) -> str:
    if z.get("orders", 0.0) <= -1.0 and z.get("events", 0.0) > -1.0:
        return "browsers"
    return "buyers"


def descriptive_name(z: dict[str, float], *, words: int = 2, missing: frozenset[str] = frozenset(),
                     skip: int = 0) -> str:
    """A name from the segment's most distinctive traits, e.g. "Frequent small-basket buyers":
    the ``words`` largest deviations (after ``skip`` of them) among features the data has,
    each in its direction's word. Close to average on everything -> "Typical buyers"."""
    ranked = [f for f in sorted(z, key=lambda f: -abs(z[f]))
              if f in TRAIT_WORDS and f not in missing and abs(z[f]) >= TRAIT_MIN_Z
              and TRAIT_WORDS[f][0 if z[f] > 0 else 1]]
    chosen = ranked[skip:skip + words]
    if not chosen:
        return f"Typical {_noun(z)}"
    adjectives = [TRAIT_WORDS[f][0 if z[f] > 0 else 1] for f in chosen]
    text = " ".join([*adjectives, _noun(z)])
    return text[0].upper() + text[1:]


def segment_names(centroids: list[dict[str, float]], missing: frozenset[str] = frozenset()
                  ) -> list[str]:
    """Distinct names for the segments of one fit. Archetype names first: each archetype goes
    to the segment that fits it best (a segment takes at most one, strongest claims first).
    A segment left without one is named by what sets it apart (``descriptive_name``), with
    more traits until no other segment carries the same name; identical centroids, the only
    case words cannot split, get their rank appended."""
    names: list[str | None] = [None] * len(centroids)
    claims = sorted(((score, i, name) for i, z in enumerate(centroids)
                     for name, score, threshold in _rules(z) if score >= threshold),
                    key=lambda c: -c[0])
    taken: set[str] = set()
    for _, i, name in claims:
        if names[i] is None and name not in taken:
            names[i] = name
            taken.add(name)
    for words in (2, 3, 4):
        proposals = {i: descriptive_name(centroids[i], words=words, missing=missing)
                     for i, n in enumerate(names) if n is None}
        counts = pd.Series(list(proposals.values()), dtype=object).value_counts()
        for i, name in proposals.items():
            if name not in taken and counts[name] == 1:
                names[i] = name
                taken.add(name)
    out: list[str] = []
    for i, n in enumerate(names):
        n = n or descriptive_name(centroids[i], words=4, missing=missing)
        base, rank = n, 1
        while n in out or (names[i] is None and n in taken):
            rank += 1
            n = f"{base} ({rank})"
        out.append(n)
    return out


def describe(z: dict[str, float], segment: dict[str, float], population: dict[str, float],
             top: int = 3) -> str:
    """The ``top`` features whose standardized centroid deviates most, in words, comparing the
    segment's mean raw value with the population's."""
    parts = []
    for name in sorted(z, key=lambda n: -abs(z[n]))[:top]:
        s, p = segment.get(name, np.nan), population.get(name, np.nan)
        if not (np.isfinite(s) and np.isfinite(p)):
            continue
        r = s / p if p else np.nan
        parts.append(BEHAVIOUR[name][1].format(s=s, p=p, r=r))
    return "; ".join(parts) or "close to the average user"


# --------------------------------------------------------------------------- ids


def match_ids(new_centroids: np.ndarray, previous: "LoadedSegments | None", space: Space,
              sizes: np.ndarray, max_distance: float) -> tuple[list[int], list[float | None], int]:
    """Segment ids for new behaviour centroids (transformed units, FEATURES order): each is
    matched to a previous centroid by the Hungarian method on the RMS distance in the new
    standardized behaviour features (the features both versions have); a match further than
    ``max_distance`` counts as none. Unmatched segments get fresh ids from the previous
    version's next id (never reusing a retired one), largest first. Returns (ids, matched
    distances, next id)."""
    k = len(new_centroids)
    ids: list[int] = [-1] * k
    dist: list[float | None] = [None] * k
    next_id = 1
    if previous is not None and len(previous.segment_ids):
        next_id = previous.next_id
        common = [f for f in FEATURES if f in previous.features]
        col_new = [FEATURES.index(f) for f in common]
        col_old = [previous.features.index(f) for f in common]
        mean, scale = space.behaviour_mean[col_new], space.behaviour_scale[col_new]
        a = (new_centroids[:, col_new] - mean) / scale
        b = (previous.behaviour_centroids[:, col_old] - mean) / scale
        cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=2))
        rows, cols = linear_sum_assignment(cost)
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] <= max_distance:
                ids[i], dist[i] = int(previous.segment_ids[j]), float(cost[i, j])
    # largest first; equal sizes by centroid, so that row order never decides an id
    for i in sorted(range(k), key=lambda i: (-sizes[i], *np.round(new_centroids[i], 6).tolist())):
        if ids[i] < 0:
            ids[i] = next_id
            next_id += 1
    return ids, dist, max(next_id, max(ids) + 1)


# --------------------------------------------------------------------------- fitting


@dataclass
class Params:
    """The segment model's hyperparameters; the segment_model config has the same fields."""
    k: int = 0                    # fixed number of segments; 0: chosen by silhouette
    k_min: int = 4
    k_max: int = 8
    behaviour_weight: float = 1.0
    factor_weight: float = 0.2    # SVD factors (block variance = weight^2 x behaviour's)
    text_weight: float = 0.2      # text interest PCA components
    text_components: int = 5
    minibatch_above: int = 50_000  # MiniBatchKMeans for more users than this
    silhouette_sample: int = 5000  # users the silhouette is computed on
    n_init: int = 10
    max_match_distance: float = 1.0  # RMS z-distance beyond which a segment is new
    min_segment_share: float = 0.02  # promotion: every segment holds at least this share
    min_segment_users: int = 5       # ... and at least this many users
    min_silhouette: float = 0.1      # promotion floor
    seed: int = 0


@dataclass
class Fit:
    space: Space
    centroids: np.ndarray            # k x d, clustering space
    behaviour_centroids: np.ndarray  # k x len(FEATURES), transformed units
    labels: np.ndarray               # per user: row of centroids
    segment_ids: list[int]
    names: list[str]
    descriptions: list[str]
    sizes: np.ndarray
    silhouette: float
    k_scores: dict[int, float]
    match_distances: list[float | None]
    next_id: int
    info: dict

    def user_segment_ids(self) -> np.ndarray:
        return np.asarray(self.segment_ids)[self.labels]


def _kmeans(k: int, n: int, cfg: Params):
    if n > cfg.minibatch_above:
        return MiniBatchKMeans(n_clusters=k, n_init=3, random_state=cfg.seed, batch_size=4096)
    return KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.seed)


def fit_segments(inputs: Inputs, cfg: Params, previous: "LoadedSegments | None" = None,
                 progress=None) -> Fit:
    n = len(inputs.users)
    weights = {"behaviour": cfg.behaviour_weight, "factors": cfg.factor_weight, "text": cfg.text_weight}
    space, info = fit_space(inputs, weights, cfg.text_components, cfg.seed)
    X = space.transform(inputs)
    candidates = [cfg.k] if cfg.k else list(range(cfg.k_min, cfg.k_max + 1))
    candidates = [k for k in candidates if 2 <= k < n]
    if not candidates:
        raise ValueError(f"{n} users cannot be split into {cfg.k or f'{cfg.k_min}..{cfg.k_max}'} segments")
    sample = min(n, cfg.silhouette_sample)
    best = None
    k_scores: dict[int, float] = {}
    for k in candidates:
        km = _kmeans(k, n, cfg).fit(X)
        labels = km.labels_
        score = (float(silhouette_score(X, labels, sample_size=sample, random_state=cfg.seed))
                 if len(set(labels)) > 1 else -1.0)
        k_scores[k] = score
        if progress:
            progress(k, score)
        if best is None or score > best[0] + 1e-9:  # ties keep the smaller k
            best = (score, km, labels)
    silhouette, km, labels = best
    k = km.n_clusters
    sizes = np.bincount(labels, minlength=k)
    B = inputs.behaviour[list(FEATURES)].to_numpy(float)
    bc = np.stack([B[labels == c].mean(axis=0) if sizes[c] else space.behaviour_mean for c in range(k)])
    # names and descriptions read every described feature, standardized over the fit's users
    D = inputs.behaviour[list(DESCRIBED)].to_numpy(float)
    dmean, dscale = D.mean(axis=0), _std(D)
    pop = {f: float(np.nanmean(inputs.display[f])) if inputs.display[f].notna().any() else np.nan
           for f in DESCRIBED}
    named, descriptions = [], []
    for c in range(k):
        zc = (D[labels == c].mean(axis=0) - dmean) / dscale if sizes[c] else np.zeros(len(DESCRIBED))
        z = dict(zip(DESCRIBED, zc.tolist(), strict=True))
        seg = inputs.display[labels == c]
        means = {f: float(np.nanmean(seg[f])) if seg[f].notna().any() else np.nan for f in DESCRIBED}
        named.append(z)
        descriptions.append(describe(z, means, pop))
    ids, dist, next_id = match_ids(bc, previous, space, sizes, cfg.max_match_distance)
    return Fit(space, km.cluster_centers_, bc, labels, ids, segment_names(named, inputs.missing), descriptions,
               sizes, silhouette, k_scores, dist, next_id, info)


def projection(fit: Fit, inputs: Inputs, sample: int = 5000, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitted users in two dimensions, for a picture: a PCA of the clustering space over
    a fixed random sample of at most ``sample`` of them. Returns (coordinates, the sampled
    users' rows in ``inputs``, the two components' explained variance ratios)."""
    n = len(inputs.users)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, sample), replace=False))
    subset = Inputs(inputs.users[rows], inputs.behaviour.iloc[rows].reset_index(drop=True),
                    inputs.display.iloc[rows].reset_index(drop=True), inputs.factors[rows],
                    inputs.text[rows])
    X = fit.space.transform(subset)
    if len(rows) < 2 or X.shape[1] < 2:
        return np.zeros((0, 2)), rows[:0], np.zeros(2)
    pca = PCA(n_components=2, random_state=seed).fit(X)
    return pca.transform(X), rows, pca.explained_variance_ratio_


# --------------------------------------------------------------------------- assignment


def assign(space: Space, centroids: np.ndarray, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per user and a confidence 1 - d1/d2 (d1, d2: Euclidean distances to
    the nearest and second-nearest centroids): 1 at a centroid, 0 halfway between two."""
    X = space.transform(inputs)
    d = np.sqrt(((X[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    order = np.argsort(d, axis=1, kind="stable")
    nearest = order[:, 0]
    if centroids.shape[0] < 2:
        return nearest, np.ones(len(X))
    d1 = np.take_along_axis(d, order[:, :1], 1)[:, 0]
    d2 = np.take_along_axis(d, order[:, 1:2], 1)[:, 0]
    conf = np.where(d2 > 0, 1.0 - d1 / np.where(d2 > 0, d2, 1.0), 0.0)
    return nearest, np.clip(conf, 0.0, 1.0)


# --------------------------------------------------------------------------- artifact


@dataclass
class LoadedSegments:
    version: str
    space: Space
    centroids: np.ndarray
    behaviour_centroids: np.ndarray
    features: list[str]
    segment_ids: np.ndarray
    names: list[str]
    next_id: int
    svd_version: str | None
    text_version: str | None


def save_model(folder: Path, fit: Fit, meta: dict) -> None:
    s = fit.space
    np.savez(folder / "model.npz", behaviour_mean=s.behaviour_mean, behaviour_scale=s.behaviour_scale,
             factor_mean=s.factor_mean, factor_scale=s.factor_scale, text_mean=s.text_mean,
             text_components=s.text_components, text_scale=s.text_scale, centroids=fit.centroids,
             behaviour_centroids=fit.behaviour_centroids, segment_ids=np.asarray(fit.segment_ids))
    segments = [{"segment_id": i, "name": n, "description": d, "size": int(z)}
                for i, n, d, z in zip(fit.segment_ids, fit.names, fit.descriptions, fit.sizes, strict=True)]
    (folder / "model.json").write_text(json.dumps(
        {**meta, "features": list(FEATURES), "weights": s.weights, "next_id": fit.next_id,
         "segments": segments}, indent=2, default=str))


def load_model(version: registry.ModelVersion) -> LoadedSegments:
    path = version.artifact_path
    meta = json.loads((path / "model.json").read_text())
    with np.load(path / "model.npz") as z:
        a = {k: z[k] for k in z.files}
    space = Space(a["behaviour_mean"], a["behaviour_scale"], a["factor_mean"], a["factor_scale"],
                  a["text_mean"], a["text_components"], a["text_scale"], meta["weights"],
                  tuple(meta["features"]))
    return LoadedSegments(version.version, space, a["centroids"], a["behaviour_centroids"],
                          meta["features"], a["segment_ids"], [s["name"] for s in meta["segments"]],
                          int(meta["next_id"]), meta.get("svd_version"), meta.get("text_version"))


# --------------------------------------------------------------------------- evaluation


def ground_truth_path() -> Path:
    return settings.data_dir() / "ground_truth" / "users.csv"


def archetype_agreement(users: np.ndarray, names: np.ndarray) -> dict | None:
    """Adjusted Rand index of segments against the demo generator's planted archetypes (bots
    left out), with the users compared and the segment x archetype crosstab; None where no
    ground-truth file exists. Evaluation only: never fitted on."""
    path = ground_truth_path()
    if not path.exists():
        return None
    truth = pd.read_csv(path, usecols=["user_id", "archetype", "is_bot"], dtype=str)
    truth = truth[truth["is_bot"].str.lower() != "true"]
    joined = pd.DataFrame({"user_id": users, "segment": names}).merge(truth, on="user_id")
    if joined.empty:
        return None
    table = pd.crosstab(joined["segment"], joined["archetype"])
    return {"ari": float(adjusted_rand_score(joined["archetype"], joined["segment"])),
            "users": len(joined),
            "crosstab": table}


def well_formed(fit: Fit, n: int, cfg: Params) -> tuple[bool, str]:
    smallest = int(fit.sizes.min())
    floor = max(cfg.min_segment_users, int(np.ceil(cfg.min_segment_share * n)))
    if smallest < floor:
        return False, f"smallest segment has {smallest} users, below {floor}"
    if fit.silhouette < cfg.min_silhouette:
        return False, f"silhouette {fit.silhouette:.3f} is below the floor {cfg.min_silhouette}"
    return True, (f"{len(fit.sizes)} segments of at least {smallest} users (floor {floor}); "
                  f"silhouette {fit.silhouette:.3f} >= {cfg.min_silhouette}")
