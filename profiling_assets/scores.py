"""Predictive traits: the model asset ``propensity_model`` (purchase propensity, churn risk and
expected spend, one registry model per target: ``propensity_purchase_14d``,
``propensity_churn_30d``, ``propensity_spend_90d``) and the daily ``user_scores`` (every
profiled user's scores, deciles and top drivers). The protocol and the models are in
propensity.py; see docs/scores.md.
"""


import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
from dagster_duckdb import DuckDBResource
from pydantic import Field
from sklearn.metrics import roc_curve

from profiling_assets import model_assets, pictures, registry, sql
from profiling_assets import propensity as P
from profiling_assets.features import WINDOW_DAYS
from profiling_assets.metadata import day_logger, days_label, preview_file, table_value
from profiling_assets.model_assets import model_asset
from profiling_assets.partitions import daily_asset
from profiling_assets.resources import ModelRegistryResource, replace_partition
from profiling_assets.signals import data_signals

MODEL_NAME = "propensity_model"
# A candidate may not fall below the production version's validation ROC-AUC by more (or, for
# spend, its RMSE skill over the last-90-days baseline).
REGRESSION_TOLERANCE = 0.02
# The aim on demo data (purchase and churn) and on the order-line profile (churn); figures in
# the metadata and the benchmark, not a check: a threshold tuned to one dataset is no gate.
GOAL_ROC_AUC = {"demo": 0.85, "orders": 0.75}


def registry_name(target: str) -> str:
    return f"propensity_{target}"


REGISTRY_NAMES = tuple(registry_name(t) for t in P.TARGETS)


def check_name(target: str) -> str:
    return f"{target}_beats_baseline"


class PropensityModelConfig(dg.Config):
    purchase_window_days: int = Field(14, description="purchase_14d: a purchase within this many days after the cutoff")
    churn_window_days: int = Field(30, description="churn_30d: no activity (order-only data: no purchase) within this many days")
    spend_window_days: int = Field(90, description="spend_90d: net revenue within this many days")
    targets: list[str] = Field(list(P.TARGETS), description="targets to train")
    candidates: list[str] = Field(list(P.CANDIDATES), description="model families evaluated per target")
    cutoffs: int = Field(4, description="training cutoff days per target (fewer on a short history)")
    cutoff_step_days: int = Field(7, description="days between training cutoffs")
    min_history_days: int = Field(14, description="days of data before the first cutoff")
    min_user_days: int = Field(7, description="users first seen more recently are neither trained on nor scored")
    min_examples_per_class: int = Field(100, description="refuse a target with fewer positive or negative training examples")
    min_roc_auc: float = Field(0.6, description="promotion floor on the validation ROC-AUC")
    keras_epochs: int = Field(40, description="most epochs of the Keras network (early stopping)")
    seed: int = Field(0, description="random seed of every candidate")


def params_of(config: PropensityModelConfig) -> P.Params:
    unknown = (set(config.targets) - set(P.TARGETS)) | (set(config.candidates) - set(P.CANDIDATES))
    if unknown or not config.targets or not config.candidates:
        raise dg.Failure(f"targets must be some of {list(P.TARGETS)} and candidates some of "
                         f"{list(P.CANDIDATES)}; unknown: {sorted(unknown)}")
    return P.Params(
        windows={"purchase_14d": config.purchase_window_days, "churn_30d": config.churn_window_days,
                 "spend_90d": config.spend_window_days},
        targets=tuple(config.targets), candidates=tuple(config.candidates), cutoffs=config.cutoffs,
        cutoff_step_days=config.cutoff_step_days, min_history_days=config.min_history_days,
        min_user_days=config.min_user_days, min_positives=config.min_examples_per_class,
        min_roc_auc=config.min_roc_auc, keras_epochs=config.keras_epochs, seed=config.seed)


def read_examples(con: duckdb.DuckDBPyConnection, cutoffs: list[date], last_day: date,
                  windows: dict[str, int], churn_on: str) -> pd.DataFrame:
    return sql.run(con, "select_propensity_examples", cutoffs=sorted(set(cutoffs)), last_day=last_day,
                   purchase_days=windows["purchase_14d"], churn_days=windows["churn_30d"],
                   spend_days=windows["spend_90d"], churn_on=churn_on).df()


def churn_definition(signals) -> tuple[str, str]:
    """('events' | 'purchases', words): order-only data (no views, carts, searches or
    reviews) churns on purchases, everything else on any activity."""
    c = signals.counts
    if not (c.get("views") or c.get("carts") or c.get("searches") or c.get("reviews")):
        return "purchases", "no purchase in the window (order-only data: no views, carts, searches or reviews)"
    return "events", "no event of any kind in the window"


# --------------------------------------------------------------------------- gate


def gate(result: P.TargetResult, p: P.Params) -> model_assets.Gate:
    """The blocking rule of one target: the winner beats the strongest simple baseline by more
    than chance (the lower bound of the paired bootstrap interval of the gain is above zero),
    and a classifier's ROC-AUC clears the floor."""
    t, m, base = P.TARGETS[result.target], result.headline, result.evaluation[result.strongest_baseline]
    low, high = result.gain_interval
    interval = f"{p.bootstrap_level:.0%} paired bootstrap interval {low:+.4f}..{high:+.4f}"
    meta = {"winner": result.winner, "strongest_baseline": result.strongest_baseline,
            "gain": result.gain, "gain_interval_low": low, "gain_interval_high": high}
    if t.kind == P.BINARY:
        auc, b = m["roc_auc"], base["roc_auc"]
        meta |= {"roc_auc": auc, "baseline_roc_auc": b, "floor": p.min_roc_auc}
        if auc < p.min_roc_auc:
            return model_assets.Gate(check_name(result.target), False,
                                     f"{result.winner} ROC-AUC {auc:.4f} is below the floor {p.min_roc_auc}", meta)
        if not low > 0:
            return model_assets.Gate(check_name(result.target), False,
                                     f"{result.winner} ROC-AUC {auc:.4f} beats the strongest baseline "
                                     f"{result.strongest_baseline} ({b:.4f}) by no more than chance ({interval})", meta)
        return model_assets.Gate(check_name(result.target), True,
                                 f"{result.winner} ROC-AUC {auc:.4f} >= floor {p.min_roc_auc} and > "
                                 f"{result.strongest_baseline} {b:.4f} (gain {result.gain:+.4f}, {interval})", meta)
    rmse, b = m["rmse"], base["rmse"]
    meta |= {"rmse": rmse, "baseline_rmse": b}
    if not low > 0:
        return model_assets.Gate(check_name(result.target), False,
                                 f"{result.winner} RMSE {rmse:,.2f} does not beat the last 90 days' spend "
                                 f"({b:,.2f}) by more than chance ({interval})", meta)
    return model_assets.Gate(check_name(result.target), True,
                             f"{result.winner} RMSE {rmse:,.2f} < last 90 days' spend {b:,.2f} "
                             f"(reduction {result.gain:,.2f}, {interval})", meta)


def guard_of(result: P.TargetResult) -> model_assets.Guard:
    if P.TARGETS[result.target].kind == P.BINARY:
        return model_assets.Guard("roc_auc", result.headline["roc_auc"], REGRESSION_TOLERANCE)
    return model_assets.Guard("rmse_skill", result.headline["rmse_skill"], REGRESSION_TOLERANCE)


# --------------------------------------------------------------------------- report


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def evaluation_rows(result: P.TargetResult) -> list[list]:
    t = P.TARGETS[result.target]
    rows = []
    for name, m in result.evaluation.items():
        role = ("winner" if name == result.winner else
                "strongest baseline" if name == result.strongest_baseline else
                "candidate" if name in P.CANDIDATES else "baseline")
        if t.kind == P.BINARY:
            rows.append([name, role, m["roc_auc"], m["pr_auc"], m.get("brier"),
                         m["lift_top_decile"], m.get("calibration_error")])
        else:
            rows.append([name, role, m["mae"], m["rmse"], m["spearman"],
                         m.get("rmse_skill", 0.0) if name in P.CANDIDATES else None])
    return rows


def target_metadata(result: P.TargetResult) -> dict[str, Any]:
    """Per target: headline figures as numbers (charted across runs), the evaluation table, the
    confusion matrix, the calibration table and the ROC and calibration pictures."""
    t, m, name = P.TARGETS[result.target], result.headline, result.target
    meta: dict[str, Any] = {}
    if t.kind == P.BINARY:
        header = ["scorer", "role", "ROC-AUC", "PR-AUC", "Brier", "lift top decile", "calibration error"]
        meta |= {f"{name}_{k}": dg.MetadataValue.float(m[k])
                 for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile")}
        c = m["confusion"]
        meta[f"{name}_confusion"] = table_value(
            [f"threshold {m['threshold']:.3f}", "predicted yes", "predicted no"],
            [["actual yes", c["tp"], c["fn"]], ["actual no", c["fp"], c["tn"]]],
            types={"predicted yes": "int", "predicted no": "int"})
        meta[f"{name}_calibration"] = table_value(
            ["decile", "users", "mean predicted", "observed"], m["calibration"],
            types={"decile": "int", "users": "int", "mean predicted": "float", "observed": "float"})
        meta[f"{name}_calibration_plot"] = pictures.calibration_plot(
            m["calibration"], f"{name}: calibration ({result.winner})")
        curves = {}
        for scorer, score in result.curves.items():
            fpr, tpr, _ = roc_curve(result.y_valid, score)
            curves[scorer] = (fpr, tpr, result.evaluation[scorer]["roc_auc"])
        meta[f"{name}_roc_curve"] = pictures.roc_curves(curves, f"{name}: ROC on the validation cutoff")
    else:
        header = ["scorer", "role", "MAE", "RMSE", "Spearman", "RMSE skill vs last 90 days"]
        meta |= {f"{name}_{k}": dg.MetadataValue.float(m[k]) for k in ("mae", "rmse", "spearman")}
    meta[f"{name}_evaluation"] = table_value(header, evaluation_rows(result),
                                             types=dict.fromkeys(header[2:], "float"))
    meta[f"{name}_importance"] = table_value(
        ["feature", f"mean |contribution| to {t.noun}"],
        [[P.FEATURE_LABELS.get(f, f), v] for f, v in
         sorted(result.importance.items(), key=lambda kv: -kv[1])[:12]],
        types={f"mean |contribution| to {t.noun}": "float"})
    return meta


def save_target(folder: Path, result: P.TargetResult, info: dict) -> None:
    # a file this project writes into its own version folder and reads back (never user input)
    joblib.dump(result.model, folder / "model.joblib")
    (folder / "model.json").write_text(json.dumps(info, indent=2, default=str))


def load_target(version: registry.ModelVersion) -> P.Model:
    return joblib.load(version.artifact_path / "model.joblib")


# --------------------------------------------------------------------------- propensity_model


@model_asset(
    deps=["user_features"],
    group_name="scores",
    kinds={"tensorflow", "scikitlearn", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(check_name(t), asset="propensity_model", blocking=True,
                          description=(f"{t}: on the validation cutoff, the best candidate "
                                       + ("clears the ROC-AUC floor and beats the stronger of the recency "
                                          "and frequency baselines" if P.TARGETS[t].kind == P.BINARY else
                                          "beats the last 90 days' spend on RMSE")
                                       + " by more than chance (paired bootstrap over users), and is "
                                       "not worse than the production version; promoted only then. "
                                       "A warning when the target could not be trained (too little "
                                       "history, too few examples)."))
        for t in P.TARGETS
    ],
)
def propensity_model(context: dg.AssetExecutionContext, config: PropensityModelConfig,
                     warehouse: DuckDBResource, model_registry: ModelRegistryResource):
    """Purchase propensity (purchase_14d), churn risk (churn_30d) and expected spend (spend_90d):
    point-in-time examples from features.user_features on past cutoff days with labels from the
    window after each, a later validation cutoff, and per target a logistic (ridge) regression,
    gradient boosting and a Keras network against simple baselines (recency, frequency; last
    90 days' spend). The best candidate per target is calibrated, refitted on the newest mature
    cutoffs and registered as propensity_<target>; promoted when its check passes. A target the
    data cannot support (too little history, too few examples) is refused with its reason."""
    p = params_of(config)
    started = time.perf_counter()
    with warehouse.get_connection() as con:
        available = [r[0] for r in sql.query(con, "select_feature_days")]
        if not available:
            raise dg.Failure("features.user_features is empty: materialize user_features first.")
        first, last = available[0], available[-1]
        signals = data_signals(con, max(first, last - timedelta(days=WINDOW_DAYS - 1)), last)
        churn_on, definition = churn_definition(signals)
        plans: dict[str, P.Plan] = {}
        refused = {t: "not among the configured targets" for t in P.TARGETS if t not in p.targets}
        for target in p.targets:
            try:
                plans[target] = P.plan_cutoffs(first, last, target, p, available)
            except P.Refused as exc:
                refused[target] = str(exc)
        cutoffs = [c for plan in plans.values() for c in [*plan.training, plan.validation, *plan.final]]
        frame = read_examples(con, cutoffs, last, p.windows, churn_on) if cutoffs else pd.DataFrame()
    if len(frame):
        frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    context.log.info(f"features {first}..{last}; {len(frame):,} examples on {len(set(cutoffs))} "
                     f"cutoff days; churn: {definition}")

    results: dict[str, P.TargetResult] = {}
    for target, plan in plans.items():
        def examples(days: list, target: str = target) -> pd.DataFrame:
            rows = frame[frame["cutoff"].isin(pd.to_datetime(days))]
            return rows[rows[P.TARGETS[target].label].notna()].reset_index(drop=True)
        try:
            results[target] = P.train_target(target, plan, examples, p,
                                             definition if target == "churn_30d" else "",
                                             log=context.log.info)
        except P.Refused as exc:
            refused[target] = str(exc)
    for target, why in refused.items():
        context.log.warning(f"{target} not trained: {why}")
    if not results:
        yield from model_assets.skipped(
            context, "not trained: " + "; ".join(f"{t}: {w}" for t, w in refused.items()),
            _refusals(refused), {"refused": dg.MetadataValue.json(refused),
                                 "churn_definition": definition, **signals.metadata()})
        return

    verdicts: dict[str, model_assets.Verdict] = {}
    meta: dict[str, Any] = {}
    for target, result in results.items():
        plan = result.plan
        info = {"target": target, "window_days": result.window, "winner": result.winner,
                "features": result.features, "absent_features": result.absent_features,
                "attribution": result.model.method, "definition": result.definition or None,
                "training_cutoffs": plan.training, "validation_cutoff": plan.validation,
                "final_cutoffs": plan.final, "min_user_days": p.min_user_days}
        name = registry_name(target)
        version, path = model_assets.write_version(model_registry, name, lambda f, r=result, i=info: save_target(f, r, i))
        metrics = {**{k: v for k, v in result.headline.items() if not isinstance(v, (dict, list))},
                   "winner": result.winner, "window_days": result.window,
                   "strongest_baseline": result.strongest_baseline, "gain": result.gain,
                   "gain_interval_low": result.gain_interval[0], "gain_interval_high": result.gain_interval[1],
                   "train_examples": result.train_examples, "train_positives": result.train_positives,
                   "validation_examples": result.validation_examples,
                   "candidates": {k: {m: v for m, v in e.items() if not isinstance(v, (dict, list))}
                                  for k, e in result.evaluation.items()},
                   "importance": result.importance, "churn_definition": result.definition or None}
        with warehouse.get_connection() as con:
            verdicts[target] = model_assets.conclude(
                context, con, name, version, path, metrics=metrics,
                config=config.model_dump() | {"target": target}, window=(plan.training[-1], last),
                gates=[gate(result, p)], guard=guard_of(result),
                fallback=f"user_scores leaves {P.TARGETS[target].column} as it was (the production "
                         "version, or NULL with the reason)")
        meta |= target_metadata(result)
        meta[f"{target}_version"] = f"{version} ({verdicts[target].status})"
        meta[f"{target}_split"] = (f"train cutoffs {', '.join(map(str, plan.training))}; validation "
                                   f"{plan.validation}; labels: the {result.window} days after each; "
                                   f"saved model refitted on {', '.join(map(str, plan.final))}")

    goals = {}
    for target in ("purchase_14d", "churn_30d"):
        if target in results:
            r = results[target]
            auc, lr = r.headline["roc_auc"], r.evaluation[P.LINEAR]["roc_auc"]
            goals[target] = {"roc_auc": round(auc, 4), "logistic_regression_roc_auc": round(lr, 4),
                             "demo_goal": GOAL_ROC_AUC["demo"],
                             "met_on_demo_terms": auc >= GOAL_ROC_AUC["demo"] and auc >= lr}
    yield dg.MaterializeResult(metadata={
        # a refused target: no figures, its reason as the status
        "targets": table_value(
            ["target", "window days", "winner", "measure", "value", "strongest baseline", "version",
             "status"],
            [[t, r.window, r.winner, *(("ROC-AUC", r.headline["roc_auc"]) if P.TARGETS[t].kind == P.BINARY
                                      else ("RMSE", r.headline["rmse"])),
              r.strongest_baseline, verdicts[t].version, verdicts[t].status]
             for t, r in results.items()]
            + [[t, None, None, None, None, None, None, f"not trained: {w}"] for t, w in refused.items()],
            types={"window days": "int", "value": "float"}),
        "status": ", ".join(f"{t}: {v.status}" for t, v in verdicts.items()),
        "refused": dg.MetadataValue.json(refused) if refused else "none",
        "churn_definition": definition,
        "features_absent_from_data": ", ".join(sorted(set().union(
            *(r.absent_features for r in results.values())))) or "none",
        "attribution": dg.MetadataValue.json({t: r.model.method for t, r in results.items()}),
        "goals": dg.MetadataValue.json(goals),
        "dagster/row_count": sum(r.train_examples for r in results.values()),
        "fit_seconds": round(time.perf_counter() - started, 1),
        **signals.metadata(),
        **meta,
    })
    for verdict in verdicts.values():
        yield from verdict.check_results()
    yield from model_assets.not_fitted(_refusals(refused))


def _refusals(refused: dict[str, str]) -> dict[str, str]:
    """check name -> why, for the targets the data could not train."""
    return {check_name(t): f"{t} not trained: {why}" for t, why in refused.items()}


# --------------------------------------------------------------------------- user_scores


VERSION_COLUMNS = {"purchase_14d": "purchase_model_version", "churn_30d": "churn_model_version",
                   "spend_90d": "spend_model_version"}
DECILE_COLUMNS = {"purchase_14d": "purchase_propensity_decile", "churn_30d": "churn_risk_decile",
                  "spend_90d": "expected_spend_decile"}


def score_day(features: pd.DataFrame, models: dict[str, tuple[str, P.Model] | str],
              min_user_days: int) -> pa.Table:
    """The day's scores: every user of ``features``; a target with a model ((version, model))
    scores users with enough history, a target without one (its reason) leaves NULL."""
    n = len(features)
    ok = (features["observed_days"] >= min_user_days).to_numpy()
    columns: dict[str, Any] = {"user_id": features["user_id"].astype(str).to_numpy()}
    drivers: list[list[dict]] = [[] for _ in range(n)]
    reasons: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(~ok):
        reasons[i].append(f"first seen {int(features['observed_days'].iloc[i])} days ago (fewer "
                          f"than {min_user_days}): too little history to score")
    for target, t in P.TARGETS.items():
        values = np.full(n, np.nan)
        entry = models.get(target, "not trained")
        version = None
        if isinstance(entry, tuple):
            version, model = entry
            rows = features[ok].reset_index(drop=True)
            if len(rows):
                values[ok] = model.predict(rows)
                for i, d in zip(np.flatnonzero(ok), P.top_drivers(model, rows, target), strict=True):
                    drivers[i].extend(d)
        else:
            for i in np.flatnonzero(ok):
                reasons[i].append(f"{t.column}: {entry}")
        columns[t.column] = values
        columns[DECILE_COLUMNS[target]] = P.deciles(values)
        columns[VERSION_COLUMNS[target]] = np.array([version] * n, dtype=object)
    driver_type = pa.list_(pa.struct([("target", pa.string()), ("feature", pa.string()),
                                      ("value", pa.float64()), ("contribution", pa.float64()),
                                      ("text", pa.string())]))
    table = pa.table({k: pa.array(v, from_pandas=True) for k, v in columns.items()})
    table = table.append_column("score_drivers", pa.array(drivers, type=driver_type))
    return table.append_column("score_missing_reason", pa.array(
        ["; ".join(r) if r else None for r in reasons], type=pa.string()))


def production_models(con: duckdb.DuckDBPyConnection, cache: dict) -> tuple[dict, int]:
    """target -> (version, model) or the reason there is none; and min_user_days."""
    models: dict[str, Any] = {}
    min_days = PropensityModelConfig().min_user_days
    for target in P.TARGETS:
        name = registry_name(target)
        prod = registry.production(con, name)
        if prod is None:
            models[target] = registry.why_no_production(con, name, MODEL_NAME)
            continue
        if prod.version not in cache:
            cache[prod.version] = load_target(prod)
        models[target] = (prod.version, cache[prod.version])
        min_days = int(prod.config.get("min_user_days", min_days))
    return models, min_days


@daily_asset(
    table="ml.user_scores",
    deps=["propensity_model", "user_features"],
    group_name="scores",
    kinds={"scikitlearn", "duckdb"},
)
def user_scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.user_scores: for every user of the day's features.user_features, the production
    propensity models' purchase_propensity_14d, churn_risk_30d (calibrated probabilities) and
    expected_spend_90d, their deciles among the day's users, the top 3 drivers per target in
    words, and the model versions. A target without a production version, or a user first seen
    fewer than min_user_days ago, gets NULL with the reason in score_missing_reason."""
    days = list(context.partition_keys)
    log = day_logger(context, days)
    cache: dict[str, P.Model] = {}
    per_day = []
    models: dict = {}
    for key in days:
        day = date.fromisoformat(key)
        with warehouse.get_connection() as con:
            models, min_days = production_models(con, cache)
            # the examples' features for the one day; labels stay NULL (none is mature on it)
            features = read_examples(con, [day], day, dict.fromkeys(P.TARGETS, 1), "events")
        started = time.perf_counter()
        table = score_day(features, models, min_days)
        seconds = time.perf_counter() - started
        with warehouse.get_connection() as con:
            replace_partition(con, "user_scores", rows=table, day=day,
                              now=datetime.now(UTC).replace(tzinfo=None))
        scored = {t: int(pd.notna(table[P.TARGETS[t].column].to_numpy(zero_copy_only=False)).sum())
                  for t in P.TARGETS}
        per_day.append([key, len(features), *scored.values(), seconds])
        log(key, f"{len(features):,} users; scored " + ", ".join(f"{t} {n:,}" for t, n in scored.items()))
    with warehouse.get_connection() as con:
        preview = preview_file(con, "preview_user_scores", day=days[-1])
        summary = sql.run(con, "summarize_user_scores", day=days[-1])
        summary = dict(zip([d[0] for d in summary.description], summary.fetchone(), strict=True))
    missing = {t: m for t, m in models.items() if not isinstance(m, tuple)}
    if missing:
        context.log.warning("NULL for every user: " + "; ".join(f"{t}: {m}" for t, m in missing.items()))
    last = per_day[-1]
    return dg.MaterializeResult(metadata={
        "days": days_label(days),
        "dagster/row_count": sum(r[1] for r in per_day),
        "users": last[1],
        **{f"scored_{t}": last[2 + i] for i, t in enumerate(P.TARGETS)},
        "model_versions": dg.MetadataValue.json(
            {t: (m[0] if isinstance(m, tuple) else None) for t, m in models.items()}),
        "not_scored": dg.MetadataValue.json(missing) if missing else "none",
        "mean_purchase_propensity": _round(summary["mean_purchase_propensity"]),
        "mean_churn_risk": _round(summary["mean_churn_risk"]),
        "total_expected_spend": _round(summary["total_expected_spend"], 2),
        "per_day": table_value(["day", "users", *(f"scored {t}" for t in P.TARGETS), "seconds"],
                               per_day, types={"seconds": "float"}),
        "preview": preview,
    })
