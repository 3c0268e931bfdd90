"""Retraining sensors: one per model, each asking on every tick whether its model should be
refitted, and requesting its train job when it should.

Reasons, in priority order (the first one that holds names the request; all that hold are
tagged):

- ``no_production_version``: the model has never been promoted and ``cleaned_events`` has at
  least one materialized partition (the first fit).
- ``quality``: the production version's evaluation metric is below its floor
  (``QUALITY_FLOORS``).
- ``drift``: the latest day's data has moved away from the data the production version was
  fitted on: PSI over behavioural features (``svd_model``, ``segment_model``) above
  ``PSI_THRESHOLD``, or the shift of the text-embedding centroid (``text_encoder``) above
  ``CENTROID_SHIFT_THRESHOLD``.
- ``new_data``: at least N daily partitions of ``cleaned_events`` after the production
  version's ``window_end`` (N per model: ``min_new_partitions``).

A request's run key is ``<model>:<reason>:<production version>:<latest partition>``: the data
window a retrain would see is the production version it replaces plus every partition up to
the latest, so one reason fires at most once per window (Dagster drops a run request whose run
key a sensor has already used). The cursor also remembers the keys fired, and a second reason
for a window already requested is not fired again: the retrain already requested sees the
same data. A new day (a new window) may fire again while the production version stays the
same, e.g. after a retrain whose checks failed: that is the retry.

See docs/retraining.md.
"""

import json
import math
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np

from profiling_assets import lake, registry, sql
from profiling_assets.propensity import TARGETS
from profiling_assets.resources import WarehouseResource

# model -> its train job (defined in schedules.py; referred to by name here)
TRAIN_JOB_NAMES = {
    "text_encoder": "train_text_encoder",
    "svd_model": "train_svd",
    "segment_model": "train_segments",
    "propensity_model": "train_propensity",
}
# propensity_model keeps one registry model per target (scores.registry_name)
REGISTRY_MODELS = {"propensity_model": tuple(f"propensity_{t}" for t in TARGETS)}

# New daily partitions after the production window that call for a refit; override per model
# with PROFILING_RETRAIN_MIN_NEW_PARTITIONS_<MODEL> (e.g. ..._SVD_MODEL=14).
DEFAULT_MIN_NEW_PARTITIONS = {"text_encoder": 7, "svd_model": 7, "segment_model": 7,
                              "propensity_model": 7}

# PSI above 0.2 is the conventional "significant shift" (0.1-0.2: moderate, below 0.1: none).
PSI_THRESHOLD = 0.2
PSI_BINS = 10            # quantile bins of the reference day
PSI_EPSILON = 1e-4       # share given to an empty bin, so that log(0) never happens
PSI_NUMERIC = ("days_since_last_visit", "orders_90d", "revenue_90d", "price_ratio_90d")
PSI_CATEGORICAL = ("top_category",)
# 1 - cosine between the day's text-embedding centroid and the training window's. Centroids of
# sentence embeddings move little day to day (~0.01 on the demo); 0.05 is a clear topic shift.
CENTROID_SHIFT_THRESHOLD = 0.05
# Fewer rows than this on either side and the drift score is not computed (too noisy).
MIN_DRIFT_ROWS = 50
# Rows per day read for PSI: a sample keeps an evaluation cheap on millions of users.
DRIFT_SAMPLE_ROWS = 50_000

# (metric key in the registry's metrics JSON, floor): below any floor -> "quality". The same
# floors the models' own promotion checks use or aim for.
QUALITY_FLOORS: dict[str, tuple[tuple[str, float], ...]] = {
    "text_encoder": (("macro_f1", 0.8),),
    "svd_model": (("recall_at_10", 0.02), ("lift_over_strongest_baseline", 1.0)),
    "segment_model": (("silhouette", 0.1),),
    # per target; the same floors as the targets' promotion checks
    "propensity_purchase_14d": (("roc_auc", 0.6),),
    "propensity_churn_30d": (("roc_auc", 0.6),),
    "propensity_spend_90d": (("rmse_skill", 0.0),),
}

REASONS = ("no_production_version", "quality", "drift", "new_data")
CURSOR_KEYS_KEPT = 50
MINIMUM_INTERVAL_SECONDS = 60
IN_FLIGHT = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
             dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


def min_new_partitions(model: str) -> int:
    value = os.environ.get(f"PROFILING_RETRAIN_MIN_NEW_PARTITIONS_{model.upper()}")
    return int(value) if value else DEFAULT_MIN_NEW_PARTITIONS[model]


def default_status() -> dg.DefaultSensorStatus:
    """Running unless PROFILING_RETRAIN_SENSORS=stopped: with the daemon (``dagster dev``) the
    models then retrain by themselves; stopped leaves it to a person in the Sensors tab."""
    stopped = os.environ.get("PROFILING_RETRAIN_SENSORS", "running").lower() == "stopped"
    return dg.DefaultSensorStatus.STOPPED if stopped else dg.DefaultSensorStatus.RUNNING


# --------------------------------------------------------------------------- drift scores

def _shares(counts: np.ndarray, eps: float) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.maximum(shares, eps)


def _psi_from_counts(ref: np.ndarray, cur: np.ndarray, eps: float) -> float:
    r, c = _shares(ref.astype(float), eps), _shares(cur.astype(float), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: Any, current: Any, bins: int = PSI_BINS, eps: float = PSI_EPSILON) -> float:
    """Population stability index of a numeric feature: ``sum((c - r) * ln(c / r))`` over
    ``bins`` quantile bins of the reference (ties merge bins, so a feature that is mostly 0
    gets fewer), with missing values (NaN/None) as a bin of their own and ``eps`` as the share
    of an empty bin."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = (np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)[1:-1]))
             if len(ref_ok) else np.array([]))
    n = len(edges) + 1

    def counts(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        binned = np.bincount(np.searchsorted(edges, ok, side="right"), minlength=n)
        return np.append(binned, len(x) - len(ok))      # last bin: missing values

    return _psi_from_counts(counts(ref, ref_ok), counts(cur, cur_ok), eps)


def categorical_psi(reference: Any, current: Any, eps: float = PSI_EPSILON) -> float:
    """PSI of a categorical feature: one bin per category seen on either side (None is a
    category)."""
    ref, cur = [str(v) for v in reference], [str(v) for v in current]
    cats = sorted(set(ref) | set(cur))
    index = {c: i for i, c in enumerate(cats)}
    r = np.bincount([index[v] for v in ref], minlength=len(cats))
    c = np.bincount([index[v] for v in cur], minlength=len(cats))
    return _psi_from_counts(r, c, eps)


def centroid_shift(reference: Any, current: Any) -> float:
    """1 - cosine similarity of two centroids (0: same direction; 1: orthogonal). NaN when
    either is the zero vector."""
    a, b = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(1.0 - np.dot(a, b) / (na * nb))


# --------------------------------------------------------------------------- assessment

@dataclass
class Drift:
    metric: str                       # psi | centroid_shift
    threshold: float
    score: float | None = None        # None: not computed (see note)
    feature: str | None = None        # the feature with the highest PSI
    by_feature: dict[str, float] = field(default_factory=dict)
    day: str | None = None            # the latest day compared
    reference: str | None = None      # the reference day or window
    note: str = ""

    @property
    def drifted(self) -> bool:
        return self.score is not None and self.score > self.threshold

    def describe(self) -> str:
        if self.score is None:
            return f"{self.metric} not computed ({self.note})"
        label = "PSI" if self.metric == "psi" else "centroid shift"
        where = f" on {self.feature}" if self.feature else ""
        op = ">" if self.drifted else "<="
        return f"{label} {self.score:.3f}{where} {op} {self.threshold} ({self.day} vs {self.reference})"


@dataclass
class Assessment:
    model: str
    production_version: str | None
    window_end: str | None
    latest_partition: str | None
    partitions: int
    new_partitions: int
    min_new_partitions: int
    drift: Drift | None = None
    quality: list[tuple[str, float | None, float]] = field(default_factory=list)

    @property
    def below_floor(self) -> list[tuple[str, float, float]]:
        return [(m, v, f) for m, v, f in self.quality if v is not None and v < f]

    @property
    def reasons(self) -> list[str]:
        if self.production_version is None:
            return ["no_production_version"] if self.partitions else []
        found = []
        if self.below_floor:
            found.append("quality")
        if self.drift is not None and self.drift.drifted:
            found.append("drift")
        if self.new_partitions >= self.min_new_partitions:
            found.append("new_data")
        return found

    @property
    def window_key(self) -> str:
        return f"{self.production_version or 'none'}:{self.latest_partition or 'none'}"

    def run_key(self, reason: str) -> str:
        return f"{self.model}:{reason}:{self.window_key}"

    def summary(self) -> str:
        if self.production_version is None:
            if self.partitions:
                return f"no production version; {self.partitions} cleaned_events partitions"
            return "no production version and no cleaned_events partitions in this instance yet"
        parts = [(f"{self.new_partitions} of {self.min_new_partitions} new partitions after "
                  f"{self.window_end} (latest {self.latest_partition})")]
        if self.drift is not None:
            parts.append(self.drift.describe())
        for metric, value, floor in self.quality:
            if value is None:
                parts.append(f"{metric} not recorded")
            else:
                parts.append(f"{metric} {value:.3f} {'below' if value < floor else 'above'} "
                             f"floor {floor}")
        return "; ".join(parts)

    def tags(self, reason: str) -> dict[str, str]:
        tags = {"retrain/reason": reason, "retrain/reasons": ",".join(self.reasons),
                "retrain/model": self.model,
                "retrain/production_version": self.production_version or "none",
                "retrain/window_end": self.window_end or "none",
                "retrain/latest_partition": self.latest_partition or "none",
                "retrain/new_partitions": str(self.new_partitions),
                "retrain/min_new_partitions": str(self.min_new_partitions)}
        d = self.drift
        if d is not None and d.score is not None:
            tags |= {"retrain/drift_metric": d.metric, "retrain/drift_score": f"{d.score:.4f}",
                     "retrain/drift_threshold": str(d.threshold),
                     "retrain/drift_day": str(d.day), "retrain/drift_reference": str(d.reference)}
            if d.metric == "psi":
                tags |= {"retrain/psi": f"{d.score:.4f}", "retrain/psi_feature": str(d.feature),
                         "retrain/psi_by_feature": json.dumps(
                             {k: round(v, 4) for k, v in d.by_feature.items()})}
            else:
                tags["retrain/centroid_shift"] = f"{d.score:.4f}"
        for metric, value, floor in self.below_floor:
            tags[f"retrain/{metric}"] = f"{value:.4f}"
            tags[f"retrain/{metric}_floor"] = str(floor)
        return tags


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def feature_drift(con: duckdb.DuckDBPyConnection, reference_day: date | None) -> Drift:
    """PSI of each of PSI_NUMERIC + PSI_CATEGORICAL between the latest feature_date and the
    reference day (the model's window_end); the score is the largest."""
    drift = Drift("psi", PSI_THRESHOLD)
    try:
        latest = sql.query(con, "select_drift_latest_feature_date")[0][0]
    except duckdb.CatalogException:
        drift.note = "no features.user_features table"
        return drift
    if latest is None or reference_day is None:
        drift.note = "no features" if latest is None else "no training window"
        return drift
    drift.day, drift.reference = str(latest), str(reference_day)
    if latest <= reference_day:
        drift.note = f"no feature day after {reference_day}"
        return drift
    ref = sql.run(con, "select_drift_user_features", day=reference_day,
                       sample=DRIFT_SAMPLE_ROWS).fetchnumpy()
    cur = sql.run(con, "select_drift_user_features", day=latest,
                       sample=DRIFT_SAMPLE_ROWS).fetchnumpy()
    n_ref, n_cur = len(ref["top_category"]), len(cur["top_category"])
    if min(n_ref, n_cur) < MIN_DRIFT_ROWS:
        drift.note = f"{n_ref} reference and {n_cur} current users, fewer than {MIN_DRIFT_ROWS}"
        return drift
    for name in PSI_NUMERIC:
        drift.by_feature[name] = psi(np.ma.filled(ref[name].astype(float), np.nan),
                                     np.ma.filled(cur[name].astype(float), np.nan))
    for name in PSI_CATEGORICAL:
        drift.by_feature[name] = categorical_psi(np.ma.filled(ref[name].astype(object), None),
                                                 np.ma.filled(cur[name].astype(object), None))
    drift.feature, drift.score = max(drift.by_feature.items(), key=lambda kv: kv[1])
    return drift


# The training window's centroid never changes for a version: computed once per process.
_REFERENCE_CENTROIDS: dict[tuple, tuple[int, list[float] | None]] = {}


def _centroid(con, version: str, first: date, last: date) -> tuple[int, list[float] | None]:
    n, centroid = sql.query(con, "select_drift_text_centroid", version=version, first=first,
                            last=last)[0]
    return int(n), centroid


def text_drift(con: duckdb.DuckDBPyConnection, version: registry.ModelVersion,
               source: str = "") -> Drift:
    """1 - cosine between the centroid of the latest day's text embeddings (production
    version) and the centroid over the version's training window (cached per warehouse
    ``source`` and window: the reference does not change between ticks)."""
    drift = Drift("centroid_shift", CENTROID_SHIFT_THRESHOLD)
    if version.window_end is None:
        drift.note = "no training window"
        return drift
    try:
        latest = sql.query(con, "select_drift_latest_text_date")[0][0]
    except duckdb.CatalogException:
        drift.note = "no ml.text_occurrences table"
        return drift
    end = _day(version.window_end)
    start = _day(version.window_start) if version.window_start else end
    drift.reference = f"{start}..{end}"
    if latest is None or latest <= end:
        drift.note = f"no text day after {end}"
        return drift
    drift.day = str(latest)
    key = (source, version.version, start, end)
    if key not in _REFERENCE_CENTROIDS:
        _REFERENCE_CENTROIDS[key] = _centroid(con, version.version, start, end)
    n_ref, ref = _REFERENCE_CENTROIDS[key]
    n_cur, cur = _centroid(con, version.version, latest, latest)
    if min(n_ref, n_cur) < MIN_DRIFT_ROWS or ref is None or cur is None:
        drift.note = (f"{n_ref} reference and {n_cur} current text occurrences embedded by "
                      f"{version.version}, fewer than {MIN_DRIFT_ROWS}")
        return drift
    score = centroid_shift(ref, cur)
    if not math.isnan(score):
        drift.score = score
    return drift


def assess(con: duckdb.DuckDBPyConnection, model: str, partitions: list[str],
           source: str = "") -> Assessment:
    """Everything the sensor decides on, from the registry, the warehouse (``source``: its
    path) and the materialized partitions of cleaned_events (ISO dates)."""
    partitions = sorted(partitions)
    names = REGISTRY_MODELS.get(model, (model,))
    found = [v for v in (registry.production(con, n) for n in names) if v is not None]
    latest = partitions[-1] if partitions else None
    n_min = min_new_partitions(model)
    if not found:
        return Assessment(model, None, None, latest, len(partitions), 0, n_min)
    # a model with several registry models (one per target) is as stale as its oldest window
    prod = min(found, key=lambda v: str(v.window_end))
    end = str(prod.window_end) if prod.window_end else None
    new = [p for p in partitions if end is None or p > end]
    a = Assessment(model, prod.version, end, latest, len(partitions), len(new), n_min)
    prefix = len(found) > 1 or names != (model,)
    a.quality = [(f"{v.model_name.removeprefix('propensity_')}_{m}" if prefix else m,
                  _metric(v.metrics.get(m)), floor)
                 for v in found for m, floor in QUALITY_FLOORS[v.model_name]]
    if model == "text_encoder":
        a.drift = text_drift(con, prod, source)
    else:
        a.drift = feature_drift(con, _day(prod.window_end) if prod.window_end else None)
    return a


def _metric(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- the sensors

def _load_cursor(raw: str | None) -> dict[str, Any]:
    try:
        cursor = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        cursor = {}
    return {"latest_partition": cursor.get("latest_partition"),
            "fired": list(cursor.get("fired", []))}


def evaluate(context: dg.SensorEvaluationContext, model: str, job_name: str,
             warehouse: WarehouseResource):
    """One tick of a retrain sensor: a RunRequest for the model's train job, or a SkipReason
    with the figures behind the decision. Either way the tick's log says what it evaluated
    (the Sensors tab shows it under the tick)."""
    result, figures = decide(context, model, job_name, warehouse)
    context.log.info(tick_line(model, job_name, result, figures))
    return result


def tick_line(model: str, job_name: str, result: dg.RunRequest | dg.SkipReason,
              figures: str) -> str:
    """The log line of one tick: what was requested and why, or why nothing, with the
    figures the decision read."""
    if isinstance(result, dg.RunRequest):
        return f"{model}: requesting {job_name} ({result.tags['retrain/reason']}): {figures}"
    message = result.skip_message or ""
    return f"{model}: skipped: {message.removeprefix(f'{model}: ')}"


def decide(context: dg.SensorEvaluationContext, model: str, job_name: str,
           warehouse: WarehouseResource) -> tuple[dg.RunRequest | dg.SkipReason, str]:
    """The decision of one tick and the figures behind it (``Assessment.summary``; empty when
    the warehouse could not be read). The warehouse is read through a read-only connection
    of the code location's warehouse resource."""
    cursor = _load_cursor(context.cursor)
    partitions = sorted(context.instance.get_materialized_partitions(
        dg.AssetKey("cleaned_events")))
    # a lake has no file to look for: its catalog is read from the last commit
    if not warehouse.lake_catalog and not Path(warehouse.database).exists():
        return dg.SkipReason(f"warehouse missing ({warehouse.database}), retrying"), ""
    try:
        con = warehouse.connect_read_only()
    except duckdb.Error as e:   # IOException: a writer holds the lock
        return dg.SkipReason(f"warehouse busy, retrying ({type(e).__name__})"), ""
    except lake.LakeUnavailable as e:
        return dg.SkipReason(f"{e}, retrying"), ""
    try:
        a = assess(con, model, partitions, warehouse.database)
    except duckdb.CatalogException:
        return dg.SkipReason("warehouse has no model registry yet, retrying"), ""
    finally:
        con.close()

    cursor["latest_partition"] = a.latest_partition
    reasons, figures = a.reasons, a.summary()
    if not reasons:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"{model}: {figures}"), figures
    already = [k for k in cursor["fired"] if k.endswith(f":{a.window_key}")]
    if already:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"{model}: retrain already requested for this window ({already[0]}); "
                             f"{figures}"), figures
    running = context.instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=list(IN_FLIGHT)),
                                        limit=1)
    if running:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"{model}: {', '.join(reasons)}, but run {running[0].run_id} of "
                             f"{job_name} is still in progress; {figures}"), figures
    reason = reasons[0]
    key = a.run_key(reason)
    cursor["fired"] = [*cursor["fired"], key][-CURSOR_KEYS_KEPT:]
    context.update_cursor(json.dumps(cursor))
    return dg.RunRequest(run_key=key, tags=a.tags(reason)), figures


def build_retrain_sensor(model: str, job_name: str | None = None) -> dg.SensorDefinition:
    """The retrain sensor of one model, targeting its train job by name."""
    job_name = job_name or TRAIN_JOB_NAMES[model]

    @dg.sensor(name=f"{model}_retrain_sensor", job_name=job_name,
               minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS, default_status=default_status(),
               description=f"Requests {job_name} when {model} has no production version, its "
                           f"metric is below its floor, the latest data drifted, or enough new "
                           f"days of cleaned_events arrived. See docs/retraining.md.")
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        return evaluate(context, model, job_name, warehouse)

    return _sensor


text_encoder_retrain_sensor = build_retrain_sensor("text_encoder")
svd_model_retrain_sensor = build_retrain_sensor("svd_model")
segment_model_retrain_sensor = build_retrain_sensor("segment_model")
propensity_model_retrain_sensor = build_retrain_sensor("propensity_model")

RETRAIN_SENSORS = (text_encoder_retrain_sensor, svd_model_retrain_sensor,
                   segment_model_retrain_sensor, propensity_model_retrain_sensor)
