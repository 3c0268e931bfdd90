"""Customer segments, the Dagster side: the model asset ``segment_model`` (k-means over
behaviour, SVD factors and text interests) and each day's users assigned to the production
segments (``user_segments``, daily). The model itself — input space, fitting, names, stable
ids, assignment, artifact and evaluation — is plain Python in segmentation.py; the assets
read, call it, write and report.

Clustering runs outside the warehouse connection: inputs are read, the connection is
given back, scikit-learn works, and results are written in a short second connection.
"""

import time
from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from dagster_duckdb import DuckDBResource
from pydantic import Field

from profiling_assets import model_assets, pictures, registry, sql
from profiling_assets.features import WINDOW_DAYS
from profiling_assets.metadata import day_logger, days_label, preview_file, table_value
from profiling_assets.model_assets import model_asset
from profiling_assets.partitions import daily_asset
from profiling_assets.resources import ModelRegistryResource, replace_partition
from profiling_assets.segmentation import (
    FEATURES,
    Params,
    archetype_agreement,
    assign,
    fit_segments,
    load_model,
    projection,
    read_inputs,
    save_model,
    well_formed,
)
from profiling_assets.signals import data_signals

# A new version may not fall below the production version's silhouette by more than this.
REGRESSION_TOLERANCE = 0.05
MODEL_NAME = "segment_model"
SVD_MODEL = "svd_model"


# The launchpad's face of segmentation.Params: the same fields, with its defaults; the asset
# turns one into the other.
class SegmentModelConfig(dg.Config):
    k: int = Field(Params.k, description="fixed number of segments; 0: chosen by silhouette in k_min..k_max")
    k_min: int = Field(Params.k_min, description="smallest k of the silhouette search")
    k_max: int = Field(Params.k_max, description="largest k of the silhouette search")
    behaviour_weight: float = Field(Params.behaviour_weight, description="weight of the behaviour features block")
    factor_weight: float = Field(
        Params.factor_weight, description="weight of the SVD factors block (variance = weight^2 x behaviour's); 0: dropped")
    text_weight: float = Field(
        Params.text_weight, description="weight of the text interest PCA components block; 0: dropped")
    text_components: int = Field(Params.text_components, description="PCA components of the text interest vectors")
    minibatch_above: int = Field(Params.minibatch_above, description="MiniBatchKMeans for more users than this")
    silhouette_sample: int = Field(Params.silhouette_sample, description="users the silhouette is computed on, at most")
    n_init: int = Field(Params.n_init, description="KMeans initialisations per k")
    max_match_distance: float = Field(
        Params.max_match_distance, description="RMS z-distance beyond which a segment is new (not matched to an old one)")
    min_segment_share: float = Field(
        Params.min_segment_share, description="promotion: every segment holds at least this share of users (0..1)")
    min_segment_users: int = Field(Params.min_segment_users, description="promotion: ...and at least this many users")
    min_silhouette: float = Field(Params.min_silhouette, description="promotion floor on the silhouette")
    seed: int = Field(Params.seed, description="random seed")


def _archetype_table(crosstab: pd.DataFrame) -> dg.TableMetadataValue:
    return table_value(["segment", *map(str, crosstab.columns)],
                       [[s, *row] for s, row in zip(crosstab.index, crosstab.values.tolist(), strict=True)])


# --------------------------------------------------------------------------- segment_model


def _text_version(con: duckdb.DuckDBPyConnection, day: date) -> str | None:
    rows = sql.query(con, "select_segment_text_version", day=day)
    return rows[0][0] if rows else None


@model_asset(
    # the table it writes beside its registry version: one row per segment
    table="ml.segments",
    deps=["user_features", "user_factors", "user_text_profile"],
    group_name="segments",
    kinds={"scikitlearn", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("segments_well_formed", asset="segment_model", blocking=True,
                          description="Every segment holds at least min_segment_users users and "
                          "min_segment_share of them, and the silhouette clears min_silhouette; "
                          "the version is promoted to production only then."),
    ],
)
def segment_model(context: dg.AssetExecutionContext, config: SegmentModelConfig,
                  warehouse: DuckDBResource, model_registry: ModelRegistryResource):
    """K-means segments of the users of the latest features.user_features day, over their
    standardized behaviour (plus, when weighted, SVD factors and text interests), with k
    chosen by silhouette in k_min..k_max. Segments get readable names and descriptions from
    their centroids, and ids matched to the previous production version's. Saves scalers,
    PCA and centroids as a registry version (promoted when segments_well_formed passes) and
    ml.segments rows; reports sizes, silhouette per k and, on demo data, the adjusted Rand
    index against the generator's planted archetypes."""
    with warehouse.get_connection() as con:
        day = sql.query(con, "select_segment_feature_date")[0][0]
        if day is None:
            raise dg.Failure("features.user_features is empty: materialize user_features first.")
        svd = registry.production(con, SVD_MODEL) if config.factor_weight > 0 else None
        text_version = _text_version(con, day) if config.text_weight > 0 else None
        inputs = read_inputs(con, day, svd.version if svd else None, text_version, WINDOW_DAYS)
        prev_version = registry.production(con, MODEL_NAME)
        signals = data_signals(con, day - timedelta(days=WINDOW_DAYS - 1), day)
    if not len(inputs.users):
        raise dg.Failure(f"No users in features.user_features on {day}.")
    previous = load_model(prev_version) if prev_version else None
    context.log.info(f"{len(inputs.users):,} users of {day}; {int(inputs.has_factors.sum()):,} with "
                     f"factors, {int(inputs.has_text.sum()):,} with text")

    params = Params(**config.model_dump())
    started = time.perf_counter()
    fit = fit_segments(inputs, params, previous,
                       progress=lambda k, s: context.log.info(f"k={k}: silhouette {s:.4f}"))
    fit_seconds = time.perf_counter() - started
    n = len(inputs.users)
    labels = np.array([f"{i} {n}" for i, n in zip(fit.segment_ids, fit.names, strict=True)])
    agreement = archetype_agreement(inputs.users, labels[fit.labels])
    passed, why = well_formed(fit, n, params)
    gate = model_assets.Gate("segments_well_formed", passed, why, metadata={
        "k": len(fit.sizes), "smallest_segment": int(fit.sizes.min()),
        "silhouette": fit.silhouette})

    window = (day - timedelta(days=WINDOW_DAYS - 1), day)
    meta = {"feature_date": day, "svd_version": svd.version if svd else None,
            "text_version": text_version, "config": config.model_dump()}
    version, path = model_assets.write_version(model_registry, MODEL_NAME, lambda folder: save_model(folder, fit, meta))
    rows = pd.DataFrame({"segment_id": np.asarray(fit.segment_ids, dtype=np.int32),
                         "segment_name": fit.names, "description": fit.descriptions,
                         "size": fit.sizes.astype(np.int32)})
    metrics = {"k": len(fit.sizes), "silhouette": fit.silhouette, "users": n,
               "k_silhouettes": {str(k): v for k, v in fit.k_scores.items()},
               "sizes": dict(zip(map(str, fit.segment_ids), fit.sizes.tolist(), strict=True)),
               "ari_vs_archetypes": agreement["ari"] if agreement else None,
               "fit_seconds": fit_seconds, "feature_date": day.isoformat(),
               "previous_version": previous.version if previous else None}

    def write_segments(con: duckdb.DuckDBPyConnection) -> None:
        replace_partition(con, "segments", rows=rows, by="version", version=version)

    with warehouse.get_connection() as con:
        verdict = model_assets.conclude(
            context, con, MODEL_NAME, version, path, metrics=metrics, config=config.model_dump(),
            window=window, gates=[gate],
            guard=model_assets.Guard("silhouette", fit.silhouette, REGRESSION_TOLERANCE),
            write_rows=write_segments)

    order = np.argsort(fit.segment_ids)
    table = [[fit.segment_ids[i], fit.names[i], int(fit.sizes[i]), fit.sizes[i] / n,
              fit.match_distances[i], fit.descriptions[i]] for i in order]
    no_factors = n - int(inputs.has_factors.sum())
    no_text = n - int(inputs.has_text.sum())
    xy, sampled, explained = projection(fit, inputs, sample=5000, seed=config.seed)
    yield dg.MaterializeResult(metadata={
        **verdict.metadata(),
        "feature_date": day.isoformat(),
        "dagster/row_count": len(fit.sizes),
        "users": n, "k": len(fit.sizes),
        "silhouette": dg.MetadataValue.float(fit.silhouette),
        "silhouette_by_k": table_value(["k", "silhouette"], list(fit.k_scores.items()),
                                       types={"k": "int", "silhouette": "float"}),
        # match distance: to the previous version's segment it took the id of; empty: new
        "segments": table_value(
            ["id", "name", "users", "share", "match distance", "description"], table,
            types={"id": "int", "users": "int", "share": "float", "match distance": "float"}),
        "ari_vs_archetypes": (dg.MetadataValue.float(agreement["ari"]) if agreement
                              else dg.MetadataValue.text("no ground truth")),
        "archetypes_by_segment": (_archetype_table(agreement["crosstab"]) if agreement
                                  else dg.MetadataValue.text("no ground truth")),
        "blocks": dg.MetadataValue.json({
            "behaviour": {"features": list(FEATURES), "weight": config.behaviour_weight},
            "factors": {"weight": config.factor_weight, "svd_version": svd.version if svd else None,
                        "dims": len(fit.space.factor_mean),
                        "users_without_factors_set_to_zero": no_factors},
            "text": {"weight": config.text_weight, "text_version": text_version,
                     "components": len(fit.space.text_scale),
                     "users_without_text_set_to_zero": no_text, **fit.info}}),
        "imputed": dg.MetadataValue.json(inputs.imputed),
        "features_absent_from_data": ", ".join(sorted(inputs.missing)) or "none",
        **signals.metadata(),
        "previous_version": previous.version if previous else "none",
        "fit_seconds": round(fit_seconds, 2),
        "segment_sizes_plot": pictures.bar_chart(
            [labels[i] for i in order], {"users": [int(fit.sizes[i]) for i in order]},
            f"segment_model: users per segment ({n:,} users of {day})", value_format="{:,.0f}"),
        "silhouette_plot": pictures.line_chart(
            {"silhouette": (list(fit.k_scores), list(fit.k_scores.values()))},
            "segment_model: silhouette by k", xlabel="k (segments)", ylabel="silhouette",
            markers=True, vlines={f"chosen k = {len(fit.sizes)}": len(fit.sizes)},
            hlines={"promotion floor": config.min_silhouette}),
        "projection_plot": pictures.scatter(
            xy, labels[fit.labels[sampled]],
            f"segment_model: PCA of the clustering space ({len(sampled):,} of {n:,} users)",
            xlabel=f"PC1 ({explained[0]:.0%} of variance)", ylabel=f"PC2 ({explained[1]:.0%})"),
        **{f"silhouette_k{k}": dg.MetadataValue.float(v) for k, v in fit.k_scores.items()},
        **{f"segment_{fit.segment_ids[i]}_users": dg.MetadataValue.int(int(fit.sizes[i]))
           for i in order},
        "projection_explained_variance": dg.MetadataValue.float(float(explained.sum())),
    })
    yield from verdict.check_results()


# --------------------------------------------------------------------------- user_segments


@daily_asset(
    table="ml.user_segments",
    deps=["segment_model", "user_features", "user_factors", "user_text_profile"],
    group_name="segments",
    kinds={"numpy", "duckdb"},
)
def user_segments(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ml.user_segments: every user of the day's features.user_features assigned to the
    nearest centroid of the production segment_model (its saved scalers and PCA; factors and
    text of the versions it was fitted with), with confidence 1 - d1/d2 from the distances to
    the two nearest centroids."""
    days = list(context.partition_keys)
    skipped = registry.skip_without_production(context, warehouse, MODEL_NAME, days)
    if skipped:
        return skipped
    log = day_logger(context, days)
    per_day = []
    model = None
    for key in days:
        day = date.fromisoformat(key)
        with warehouse.get_connection() as con:
            model = load_model(registry.require_production(con, MODEL_NAME))
            inputs = read_inputs(con, day, model.svd_version if len(model.space.factor_mean) else None,
                                 model.text_version if len(model.space.text_scale) else None,
                                 WINDOW_DAYS)
        nearest, confidence = assign(model.space, model.centroids, inputs)
        ids = model.segment_ids[nearest].astype(np.int32)
        names = np.asarray(model.names, dtype=object)[nearest]
        rows = pa.table({"user_id": inputs.users, "segment_id": ids, "segment_name": names.astype(str),
                         "confidence": confidence})
        with warehouse.get_connection() as con:
            replace_partition(con, "user_segments", rows=rows, day=day, version=model.version)
        n = len(inputs.users)
        missing_f = n - int(inputs.has_factors.sum()) if len(model.space.factor_mean) else None
        missing_t = n - int(inputs.has_text.sum()) if len(model.space.text_scale) else None
        per_day.append([key, n, float(confidence.mean()) if n else None, missing_f, missing_t])
        log(key, f"{n:,} users assigned with {model.version}")
    with warehouse.get_connection() as con:
        counts = sql.query(con, "summarize_user_segments", day=days[-1])
        preview = preview_file(con, "preview_user_segments", day=days[-1])
    last = per_day[-1]
    return dg.MaterializeResult(metadata={
        "days": days_label(days),
        "model_version": model.version,
        "dagster/row_count": sum(r[1] for r in per_day),
        "users": last[1],
        "mean_confidence": dg.MetadataValue.float(float(last[2]) if last[1] else 0.0),
        "per_segment": table_value(["id", "name", "users", "mean confidence"], counts,
                                   types={"mean confidence": "float"}),
        "per_day": table_value(
            ["day", "users", "mean confidence", "without factors (zeros)", "without text (zeros)"],
            per_day, types={"mean confidence": "float", "without factors (zeros)": "int",
                            "without text (zeros)": "int"}),
        "preview": preview,
    })
