"""Predictive traits: purchase propensity, churn risk and expected spend per user.

Plain model logic (no Dagster): point-in-time examples, candidates, calibration, metrics,
the honest comparison with simple baselines, and per-user explanations. ``scores.py`` holds
the assets that read the warehouse, call these functions and write the results.

Protocol (docs/scores.md): for a target with a window of W days and the last landed day T,
labels are mature for cutoffs up to T - W. The validation cutoff is T - W; the training
cutoffs end W days before it (T - 2W, then every ``cutoff_step_days`` back), so no training
label looks past the validation cutoff, as on the day a user would have trained it. Each
example is one user's ``features.user_features`` row of the cutoff day — computed from
activity up to that day only — and the label from the W days after it. Candidates (logistic
or ridge regression, gradient boosting, a Keras network) are fitted on 80% of the training
users, calibrated (Platt) on the other 20%, and scored on the validation cutoff next to
simple baselines; the winner is refitted with the same recipe on the newest mature cutoffs.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

BINARY, REGRESSION = "binary", "regression"


@dataclass(frozen=True)
class Target:
    name: str          # registry suffix and check prefix: purchase_14d
    kind: str          # binary | regression
    column: str        # the user_scores column
    noun: str          # in explanations: "raises <noun> by ..."
    label: str         # the examples' label column


TARGETS = {
    "purchase_14d": Target("purchase_14d", BINARY, "purchase_propensity_14d", "purchase propensity",
                           "purchased"),
    "churn_30d": Target("churn_30d", BINARY, "churn_risk_30d", "churn risk", "churned"),
    "spend_90d": Target("spend_90d", REGRESSION, "expected_spend_90d", "expected spend",
                        "net_spend"),
}

# Point-in-time features: every one is a column of features.user_features on the cutoff day
# (computed from activity up to that day only), plus observed_days.
FEATURE_LABELS = {
    "days_since_last_visit": "days since last visit",
    "days_since_last_purchase": "days since last purchase",
    "observed_days": "days since first seen (90-day window)",
    "tenure_days": "days since sign-up",
    "active_days_7d": "active days in 7 days",
    "active_days_30d": "active days in 30 days",
    "active_days_90d": "active days in 90 days",
    "events_7d": "events in 7 days",
    "events_30d": "events in 30 days",
    "events_90d": "events in 90 days",
    "sessions_30d": "sessions in 30 days",
    "sessions_90d": "sessions in 90 days",
    "purchases_30d": "items purchased in 30 days",
    "purchases_90d": "items purchased in 90 days",
    "orders_7d": "orders in 7 days",
    "orders_30d": "orders in 30 days",
    "orders_90d": "orders in 90 days",
    "revenue_30d": "revenue in 30 days",
    "revenue_90d": "revenue in 90 days",
    "refunds_90d": "refunds in 90 days",
    "aov_90d": "average order value (90 days)",
    "view_to_cart_90d": "view-to-cart rate (90 days)",
    "cart_to_purchase_90d": "cart-to-purchase rate (90 days)",
    "top_category_share": "share of the top category",
    "price_ratio_90d": "price paid vs category median",
    "rfm_recency": "RFM recency score",
    "rfm_frequency": "RFM frequency score",
    "rfm_monetary": "RFM monetary score",
}
FEATURES = tuple(FEATURE_LABELS)
MONEY = {"revenue_30d", "revenue_90d", "refunds_90d", "aov_90d"}
# Counts and money are heavy-tailed: the linear and neural candidates see log1p of them.
LOGGED = {f for f in FEATURES if f.startswith(("events_", "sessions_", "purchases_", "orders_",
                                               "revenue_", "refunds_", "aov_"))}

CANDIDATES = ("logistic_regression", "gradient_boosting", "keras_mlp")
LINEAR = "logistic_regression"   # for spend: ridge regression on the same features
BASELINE_SPEND = "last_90d_spend"


class Refused(Exception):
    """A target cannot be trained on this data; the message says why in a user's words."""


@dataclass
class Params:
    windows: dict[str, int] = field(default_factory=lambda: {
        "purchase_14d": 14, "churn_30d": 30, "spend_90d": 90})
    targets: tuple[str, ...] = tuple(TARGETS)
    candidates: tuple[str, ...] = CANDIDATES
    cutoffs: int = 4                 # training cutoffs per target (fewer on a short history)
    cutoff_step_days: int = 7
    min_history_days: int = 14       # the first cutoff is at least this far into the data
    min_user_days: int = 7           # users first seen more recently are not scored
    min_positives: int = 100         # per class, over the training examples
    min_validation_per_class: int = 30
    min_roc_auc: float = 0.6
    bootstrap_draws: int = 500
    bootstrap_level: float = 0.90
    keras_epochs: int = 40
    seed: int = 0


# --------------------------------------------------------------------------- cutoffs


@dataclass
class Plan:
    target: str
    window: int
    validation: Any          # date
    training: list[Any]      # dates, newest first
    final: list[Any]         # the refit's cutoffs, newest first (validation first)


def plan_cutoffs(first_day, last_day, target: str, p: Params, available=None) -> Plan:
    """The cutoffs of one target, or Refused when the history is too short for its window.
    ``available``: the days that have user_features rows (default: every day); a cutoff that
    falls on a day without them (never built) moves to the nearest earlier day that has them."""
    window = int(p.windows[target])
    days = sorted(available) if available is not None else None

    def on_or_before(day):
        if days is None:
            return day
        i = bisect.bisect_right(days, day)
        return days[i - 1] if i else None

    earliest = first_day + timedelta(days=p.min_history_days - 1)
    need = 2 * window + p.min_history_days
    have = (last_day - first_day).days + 1
    too_short = Refused(f"too little history for a {window}-day window: {have} days of features "
                        f"({first_day}..{last_day}); a time split needs {need} (two windows of "
                        f"labels and {p.min_history_days} days of history before the first cutoff)")
    validation = on_or_before(last_day - timedelta(days=window))
    if validation is None or validation < earliest:
        raise too_short
    training = [on_or_before(validation - timedelta(days=window + k * p.cutoff_step_days))
                for k in range(p.cutoffs)]
    training = sorted({c for c in training if c is not None and c >= earliest}, reverse=True)
    if not training:
        raise too_short
    final = [on_or_before(validation - timedelta(days=k * p.cutoff_step_days)) for k in range(p.cutoffs)]
    final = sorted({c for c in final if c is not None and c >= earliest}, reverse=True)
    return Plan(target, window, validation, training, final)


# --------------------------------------------------------------------------- examples


def labels(frame: pd.DataFrame, target: str) -> np.ndarray:
    t = TARGETS[target]
    y = frame[t.label].to_numpy()
    return y.astype(np.float64) if t.kind == REGRESSION else y.astype(np.int8)


def usable(frame: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Users with enough history to be scored (the same rule at training and scoring)."""
    return frame[frame["observed_days"] >= p.min_user_days].reset_index(drop=True)


def user_split(user_ids: Sequence[str], share: float = 0.2, salt: str = "calibration") -> np.ndarray:
    """A stable split by user id: True for the calibration part (``share`` of the users), the
    same for a user at every cutoff so no user sits on both sides."""
    out = np.empty(len(user_ids), dtype=bool)
    for i, u in enumerate(user_ids):
        h = hashlib.blake2b(f"{salt}:{u}".encode(), digest_size=4).digest()
        out[i] = int.from_bytes(h, "big") / 2**32 < share
    return out


def present_features(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(features with at least one value, features the data leaves empty)."""
    present = [f for f in FEATURES if f in frame and frame[f].notna().any()]
    return present, [f for f in FEATURES if f not in present]


# --------------------------------------------------------------------------- features


class Preprocessor:
    """For the linear and neural candidates: log1p of counts and money, missing values set to
    the training median with a missing-indicator column, then standardized. Columns keep a map
    to the feature they come from, so explanations add a feature's parts back together."""

    def fit(self, X: pd.DataFrame) -> Preprocessor:
        self.features = list(X.columns)
        A = self._log(X)
        self.median = np.nanmedian(np.where(np.isnan(A), np.nan, A), axis=0)
        self.median = np.where(np.isnan(self.median), 0.0, self.median)
        self.indicators = [j for j in range(A.shape[1]) if np.isnan(A[:, j]).any()]
        Z = self._raw(A)
        self.mean, self.std = Z.mean(axis=0), Z.std(axis=0)
        self.std = np.where(self.std > 1e-12, self.std, 1.0)
        self.source = np.array(list(range(A.shape[1])) + self.indicators)
        return self

    def _log(self, X: pd.DataFrame) -> np.ndarray:
        A = X.to_numpy(dtype=np.float64, na_value=np.nan).copy()
        for j, f in enumerate(X.columns):
            if f in LOGGED:
                A[:, j] = np.log1p(np.clip(A[:, j], 0, None))
        return A

    def _raw(self, A: np.ndarray) -> np.ndarray:
        missing = np.isnan(A)
        filled = np.where(missing, self.median[None, :], A)
        return np.hstack([filled, missing[:, self.indicators].astype(np.float64)])

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return (self._raw(self._log(X[self.features])) - self.mean) / self.std

    def to_features(self, contributions: np.ndarray) -> np.ndarray:
        """Per-column contributions summed into their features' columns."""
        out = np.zeros((contributions.shape[0], len(self.features)))
        np.add.at(out.T, self.source, contributions.T)
        return out


# --------------------------------------------------------------------------- models


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


@dataclass
class Platt:
    """p = sigmoid(a * raw + b), fitted on held-out users' raw scores."""

    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> Platt:
        if len(np.unique(y)) < 2:
            return cls()
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return _sigmoid(self.a * raw + self.b)


class Model:
    """One fitted candidate: ``raw`` (log-odds for a classifier, the prediction for spend),
    ``predict`` (calibrated probability, or spend), and ``contributions``: per user and
    feature, in the unit of ``predict``, relative to ``base`` (the prediction for the average
    training user)."""

    name: str
    method: str   # how contributions are computed, for the metadata
    kind: str
    features: list[str]
    calibration: Platt | None = None

    def raw(self, X: pd.DataFrame) -> np.ndarray: ...

    def raw_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(per feature contributions to raw, raw base per user); rows sum to raw - base."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.raw(X)
        return self.calibration(raw) if self.calibration is not None else raw

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(contributions in the unit of predict, base prediction per user). For a classifier
        the raw (log-odds) contributions are scaled by the secant slope of the calibrated
        probability between the base and the user's score, so that they add up to the
        probability's difference from the base exactly."""
        phi, base = self.raw_contributions(X)
        if self.calibration is None:
            return phi, base
        raw = base + phi.sum(axis=1)
        p, p0 = self.calibration(raw), self.calibration(base)
        d = raw - base
        slope = np.where(np.abs(d) > 1e-9, (p - p0) / np.where(np.abs(d) > 1e-9, d, 1.0),
                         self.calibration.a * p * (1 - p))
        return phi * slope[:, None], p0


class LinearModel(Model):
    method = "exact linear contributions: coefficient x (value - training mean), on the model's scale"

    def __init__(self, kind: str, features: list[str], seed: int):
        self.kind, self.features, self.name = kind, features, LINEAR
        self.pre = Preprocessor()
        self.est = (LogisticRegression(C=1.0, max_iter=2000) if kind == BINARY else Ridge(alpha=1.0))

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LinearModel:
        self.est.fit(self.pre.fit(X[self.features]).transform(X[self.features]), y)
        return self

    def _coef(self) -> tuple[np.ndarray, float]:
        coef = np.ravel(self.est.coef_)
        return coef, float(np.ravel([self.est.intercept_])[0])

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        coef, b = self._coef()
        return self.pre.transform(X) @ coef + b

    def raw_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        coef, b = self._coef()
        Z = self.pre.transform(X)  # the training mean of every column is 0 after scaling
        phi = self.pre.to_features(Z * coef[None, :])
        return phi, np.full(len(X), b)


class TreeModel(Model):
    method = "TreeSHAP (shap.TreeExplainer, path-dependent), on the model's log-odds / prediction"

    def __init__(self, kind: str, features: list[str], seed: int):
        self.kind, self.features, self.name = kind, features, "gradient_boosting"
        # shallow trees: TreeSHAP's cost grows with the square of the depth, and it runs for
        # every profiled user every day
        common = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 15, "max_depth": 5,
                  "min_samples_leaf": 40, "l2_regularization": 1.0, "early_stopping": True,
                  "validation_fraction": 0.15, "n_iter_no_change": 20, "random_state": seed}
        self.est = (HistGradientBoostingClassifier(**common) if kind == BINARY
                    else HistGradientBoostingRegressor(**common))
        self._explainer = None

    def _X(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.features].to_numpy(dtype=np.float64, na_value=np.nan)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> TreeModel:
        self.est.fit(self._X(X), y)
        return self

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        A = self._X(X)
        return (self.est.decision_function(A) if self.kind == BINARY else self.est.predict(A))

    def raw_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        import shap

        if self._explainer is None:
            self._explainer = shap.TreeExplainer(self.est)
        phi = np.asarray(self._explainer.shap_values(self._X(X)), dtype=np.float64)
        base = float(np.ravel([self._explainer.expected_value])[0])
        return phi, np.full(len(X), base)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_explainer"} | {"_explainer": None}


class KerasModel(Model):
    method = ("integrated gradients (32 steps from the average training user), on the "
              "network's log-odds / prediction")

    def __init__(self, kind: str, features: list[str], seed: int, epochs: int = 40):
        self.kind, self.features, self.name = kind, features, "keras_mlp"
        self.seed, self.epochs = seed, epochs
        self.pre = Preprocessor()
        self.y_mean, self.y_std = 0.0, 1.0
        self.weights: list[np.ndarray] | None = None
        self._net = None

    def _build(self, width: int):
        import tensorflow as tf

        tf.keras.utils.set_random_seed(self.seed)
        net = tf.keras.Sequential([
            tf.keras.layers.Input((width,)),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dropout(0.1),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(1),   # log-odds, or standardized spend
        ])
        return net

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> KerasModel:
        import tensorflow as tf

        Z = self.pre.fit(X[self.features]).transform(X[self.features]).astype(np.float32)
        target = y.astype(np.float32)
        if self.kind == REGRESSION:
            self.y_mean, self.y_std = float(target.mean()), float(target.std() or 1.0)
            target = (target - self.y_mean) / self.y_std
        net = self._build(Z.shape[1])
        loss = (tf.keras.losses.BinaryCrossentropy(from_logits=True) if self.kind == BINARY
                else tf.keras.losses.MeanSquaredError())
        net.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss=loss)
        # early stopping on a held-out tenth of the rows (the split is seeded)
        net.fit(Z, target, batch_size=256, epochs=self.epochs, validation_split=0.1, verbose=0,
                callbacks=[tf.keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True)])
        self._net = net
        self.weights = net.get_weights()
        return self

    def _model(self):
        if self._net is None:
            self._net = self._build(len(self.pre.source))
            self._net.set_weights(self.weights)
        return self._net

    def _out(self, Z: np.ndarray) -> np.ndarray:
        out = np.asarray(self._model()(Z.astype(np.float32), training=False)).ravel().astype(np.float64)
        return out * self.y_std + self.y_mean if self.kind == REGRESSION else out

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.concatenate([self._out(self.pre.transform(X.iloc[lo:lo + 8192]))
                               for lo in range(0, len(X), 8192)]) if len(X) else np.zeros(0)

    def raw_contributions(self, X: pd.DataFrame, steps: int = 32) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        net = self._model()
        Z = self.pre.transform(X).astype(np.float32)
        baseline = np.zeros((1, Z.shape[1]), dtype=np.float32)  # the training mean, scaled
        alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps  # midpoint rule
        grads = np.zeros_like(Z)
        chunk = max(1, 131072 // steps)  # every step of a chunk of users in one gradient call
        for lo in range(0, len(Z), chunk):
            z = Z[lo:lo + chunk]
            points = tf.constant((baseline[None] + alphas[:, None, None] * (z - baseline)[None])
                                 .reshape(-1, Z.shape[1]))
            with tf.GradientTape() as tape:
                tape.watch(points)
                out = net(points, training=False)
            g = tape.gradient(out, points).numpy().reshape(steps, len(z), Z.shape[1])
            grads[lo:lo + chunk] = g.mean(axis=0)
        phi = (Z - baseline) * grads
        scale = self.y_std if self.kind == REGRESSION else 1.0
        base = float(np.asarray(net(baseline, training=False)).ravel()[0]) * scale + (
            self.y_mean if self.kind == REGRESSION else 0.0)
        phi = self.pre.to_features(phi.astype(np.float64) * scale)
        # the midpoint rule leaves a small residual: spread it so rows sum to raw - base
        residual = self.raw(X) - base - phi.sum(axis=1)
        weight = np.abs(phi) / np.maximum(np.abs(phi).sum(axis=1, keepdims=True), 1e-12)
        return phi + residual[:, None] * weight, np.full(len(X), base)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_net"} | {"_net": None}


MAKERS: dict[str, Callable[..., Model]] = {
    "logistic_regression": LinearModel, "gradient_boosting": TreeModel, "keras_mlp": KerasModel}


def fit_candidate(name: str, kind: str, features: list[str], X: pd.DataFrame, y: np.ndarray,
                  calibrate: np.ndarray, p: Params) -> Model:
    """Fit on the rows outside ``calibrate``; a classifier is then calibrated on the others."""
    kwargs = {"epochs": p.keras_epochs} if name == "keras_mlp" else {}
    model = MAKERS[name](kind, features, p.seed, **kwargs)
    fit_rows = ~calibrate if kind == BINARY else np.ones(len(y), dtype=bool)
    model.fit(X[fit_rows].reset_index(drop=True), y[fit_rows])
    if kind == BINARY:
        model.calibration = Platt.fit(model.raw(X[calibrate].reset_index(drop=True)), y[calibrate])
    return model


# --------------------------------------------------------------------------- metrics


def lift_top_decile(y: np.ndarray, score: np.ndarray) -> float:
    n = max(1, math.ceil(len(y) * 0.1))
    top = np.argsort(-score, kind="stable")[:n]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def calibration_table(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> list[list]:
    """Per decile of the predicted probability: users, mean predicted, observed rate."""
    order = np.argsort(prob, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, bins)):
        if len(idx):
            rows.append([i + 1, len(idx), float(prob[idx].mean()), float(y[idx].mean())])
    return rows


def best_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """The threshold that maximises F1 (chosen on the calibration users, applied to validation)."""
    if len(np.unique(y)) < 2:
        return 0.5
    candidates = np.unique(np.quantile(prob, np.linspace(0.02, 0.98, 49)))
    f1 = []
    for t in candidates:
        pred = prob >= t
        tp = np.sum(pred & (y == 1))
        f1.append(2 * tp / max(1, pred.sum() + (y == 1).sum()))
    return float(candidates[int(np.argmax(f1))])


def binary_metrics(y: np.ndarray, score: np.ndarray, *, probability: bool,
                   threshold: float | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"roc_auc": float(roc_auc_score(y, score)),
                         "pr_auc": float(average_precision_score(y, score)),
                         "lift_top_decile": lift_top_decile(y, score),
                         "positives": int(y.sum()), "examples": len(y),
                         "base_rate": float(y.mean())}
    if probability:
        m["brier"] = float(brier_score_loss(y, score))
        t = 0.5 if threshold is None else threshold
        pred = score >= t
        m["threshold"] = t
        m["confusion"] = {"tp": int(np.sum(pred & (y == 1))), "fp": int(np.sum(pred & (y == 0))),
                          "fn": int(np.sum(~pred & (y == 1))), "tn": int(np.sum(~pred & (y == 0)))}
        m["calibration"] = calibration_table(y, score)
        m["calibration_error"] = float(np.mean([abs(r[2] - r[3]) for r in m["calibration"]]))
    return m


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    rho = spearmanr(y, pred).statistic if np.std(pred) > 0 and np.std(y) > 0 else float("nan")
    return {"mae": float(np.mean(np.abs(y - pred))), "rmse": float(np.sqrt(np.mean((y - pred) ** 2))),
            "spearman": float(rho), "examples": len(y), "mean_truth": float(y.mean())}


def paired_bootstrap(stat: Callable[[np.ndarray], float], n: int, draws: int, level: float,
                     seed: int) -> tuple[float, float]:
    """The ``level`` interval of ``stat(index)`` over users resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = np.array([stat(rng.integers(0, n, n)) for _ in range(draws)])
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


# --------------------------------------------------------------------------- baselines


def baseline_scores(frame: pd.DataFrame, target: str, window: int) -> dict[str, np.ndarray]:
    """Simple baselines a user would try first. Classifiers: recency (days since the last
    visit) and frequency (active days in 30 days), each pointed the way the target needs;
    spend: the last 90 days' net spend scaled to the window."""
    if TARGETS[target].kind == REGRESSION:
        spend = (frame["revenue_90d"].fillna(0) - frame["refunds_90d"].fillna(0)).to_numpy(float)
        return {BASELINE_SPEND: spend * window / 90.0}
    recency = frame["days_since_last_visit"].to_numpy(float)
    frequency = frame["active_days_30d"].to_numpy(float)
    churn = target.startswith("churn")
    return {"recency": recency if churn else -recency,
            "frequency": -frequency if churn else frequency}


# --------------------------------------------------------------------------- one target


@dataclass
class TargetResult:
    target: str
    window: int
    plan: Plan
    features: list[str]
    absent_features: list[str]
    winner: str
    model: Model                      # the winner, refitted on the final cutoffs
    evaluation: dict[str, dict]       # candidate or baseline -> validation metrics
    strongest_baseline: str
    gain: float                       # winner minus strongest baseline (AUC; RMSE reduction)
    gain_interval: tuple[float, float]
    importance: dict[str, float]      # mean |contribution| per feature on validation users
    train_examples: int
    train_positives: int | None
    validation_examples: int
    definition: str
    y_valid: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    curves: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # validation scores

    @property
    def headline(self) -> dict[str, Any]:
        return self.evaluation[self.winner]


def check_classes(y: np.ndarray, what: str, floor: int) -> None:
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if pos < floor or neg < floor:
        raise Refused(f"too few examples of a class in the {what}: {pos} positive and {neg} "
                      f"negative, fewer than the floor of {floor} each")


def train_target(target: str, plan: Plan, examples: Callable[[list], pd.DataFrame], p: Params,
                 definition: str, log: Callable[[str], None] = lambda m: None) -> TargetResult:
    """Evaluate every candidate and baseline on the validation cutoff, pick the winner, and
    refit it on the final cutoffs. ``examples(cutoffs)`` returns the labelled examples of
    those cutoff days (columns: user_id, cutoff, the features, the labels)."""
    t = TARGETS[target]
    train = usable(examples(plan.training), p)
    valid = usable(examples([plan.validation]), p)
    if train.empty:
        raise Refused(f"no users with {p.min_user_days}+ days of history on the training "
                      f"cutoffs {', '.join(map(str, plan.training))}")
    features, absent = present_features(train)
    y_train, y_valid = labels(train, target), labels(valid, target)
    if t.kind == BINARY:
        check_classes(y_train, f"training cutoffs ({len(plan.training)})", p.min_positives)
        check_classes(y_valid, f"validation cutoff {plan.validation}", p.min_validation_per_class)
    elif len(train) < 2 * p.min_positives or len(valid) < p.min_validation_per_class:
        raise Refused(f"too few examples: {len(train)} training and {len(valid)} validation users")
    calibrate = user_split(train["user_id"].tolist())
    evaluation: dict[str, dict] = {}
    predictions: dict[str, np.ndarray] = {}
    models: dict[str, Model] = {}
    for name in p.candidates:
        log(f"{target}: fitting {name} on {len(train):,} examples")
        model = fit_candidate(name, t.kind, features, train, y_train, calibrate, p)
        pred = model.predict(valid)
        if t.kind == BINARY:
            threshold = best_threshold(y_train[calibrate], model.predict(train[calibrate]))
            evaluation[name] = binary_metrics(y_valid, pred, probability=True, threshold=threshold)
        else:
            evaluation[name] = regression_metrics(y_valid, pred)
        predictions[name], models[name] = pred, model
    baselines = baseline_scores(valid, target, plan.window)
    for name, score in baselines.items():
        evaluation[name] = (binary_metrics(y_valid, score, probability=False) if t.kind == BINARY
                            else regression_metrics(y_valid, score))
    if t.kind == BINARY:
        winner = max(p.candidates, key=lambda c: evaluation[c]["roc_auc"])
        strongest = max(baselines, key=lambda b: evaluation[b]["roc_auc"])
        gain = evaluation[winner]["roc_auc"] - evaluation[strongest]["roc_auc"]
        w, b = predictions[winner], baselines[strongest]
        interval = paired_bootstrap(lambda i: _auc(y_valid[i], w[i]) - _auc(y_valid[i], b[i]),
                                    len(y_valid), p.bootstrap_draws, p.bootstrap_level, p.seed)
    else:
        winner = min(p.candidates, key=lambda c: evaluation[c]["rmse"])
        strongest = BASELINE_SPEND
        w, b = predictions[winner], baselines[strongest]
        gain = evaluation[strongest]["rmse"] - evaluation[winner]["rmse"]
        se_w, se_b = (y_valid - w) ** 2, (y_valid - b) ** 2
        interval = paired_bootstrap(lambda i: math.sqrt(se_b[i].mean()) - math.sqrt(se_w[i].mean()),
                                    len(y_valid), p.bootstrap_draws, p.bootstrap_level, p.seed)
        for name in p.candidates:
            evaluation[name]["rmse_skill"] = 1 - evaluation[name]["rmse"] / max(
                evaluation[strongest]["rmse"], 1e-12)
    contributions, _ = models[winner].contributions(valid)
    importance = dict(zip(features, np.abs(contributions).mean(axis=0).tolist(), strict=True))
    log(f"{target}: winner {winner}; refitting on cutoffs {', '.join(map(str, plan.final))}")
    final = usable(examples(plan.final), p)
    y_final = labels(final, target)
    model = fit_candidate(winner, t.kind, features, final, y_final,
                          user_split(final["user_id"].tolist()), p)
    return TargetResult(
        target, plan.window, plan, features, absent, winner, model, evaluation, strongest, gain,
        interval, importance, len(train), int(y_train.sum()) if t.kind == BINARY else None,
        len(valid), definition, y_valid, {**predictions, **baselines})


# --------------------------------------------------------------------------- explanations


@functools.lru_cache(maxsize=65536)  # counts and scores repeat across users and days
def _value_text(feature: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none in 90 days" if feature in ("days_since_last_purchase", "aov_90d") else "unknown"
    if feature in MONEY:
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2f}"


def driver_text(feature: str, value: float, contribution: float, noun: str, money: bool) -> str:
    """e.g. 'orders in 90 days: 7 (raises purchase propensity by 0.21)'."""
    verb = "raises" if contribution >= 0 else "lowers"
    amount = f"{abs(contribution):,.2f}" if money else f"{abs(contribution):.2f}"
    return f"{FEATURE_LABELS.get(feature, feature)}: {_value_text(feature, value)} ({verb} {noun} by {amount})"


def top_drivers(model: Model, X: pd.DataFrame, target: str, k: int = 3) -> list[list[dict]]:
    """Per user, the k features with the largest absolute contribution, largest first."""
    if not len(X):
        return []
    t = TARGETS[target]
    phi, _ = model.contributions(X)
    order = np.argsort(-np.abs(phi), axis=1, kind="stable")[:, :k]
    values = X[model.features].to_numpy(dtype=np.float64, na_value=np.nan)
    out = []
    for i in range(len(X)):
        row = []
        for j in order[i]:
            c, v, f = float(phi[i, j]), float(values[i, j]), model.features[j]
            row.append({"target": target, "feature": f, "value": None if math.isnan(v) else v,
                        "contribution": c,
                        "text": driver_text(f, v, c, t.noun, t.kind == REGRESSION)})
        out.append(row)
    return out


def deciles(values: np.ndarray) -> np.ndarray:
    """1..10 by rank among the scored users (10: the highest); NaN stays NaN."""
    out = np.full(len(values), np.nan)
    ok = ~np.isnan(values)
    n = int(ok.sum())
    if n:
        ranks = pd.Series(values[ok]).rank(method="first").to_numpy()
        out[ok] = np.ceil(ranks * 10 / n)
    return out
