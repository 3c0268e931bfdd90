"""Model versions: artifacts in ``data/models/<name>/<version>/`` plus a row in
``ml.model_registry``. A fit registers a candidate; promotion makes it the one production
version of its model, and daily apply assets read that version.
"""

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from profiling_assets import sql

CANDIDATE, PRODUCTION, RETIRED, REJECTED = "candidate", "production", "retired", "rejected"


class NoProductionModelError(RuntimeError):
    """A daily asset needs a model that has no production version yet."""


class NoTrainingDataError(RuntimeError):
    """A model asset found no clean events to fit on."""


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: str
    trained_at: datetime
    window_start: date | None
    window_end: date | None
    metrics: dict[str, Any]
    config: dict[str, Any]
    artifact_path: Path
    status: str

    @classmethod
    def from_row(cls, row: tuple) -> "ModelVersion":
        name, version, trained_at, start, end, metrics, config, path, status = row
        return cls(name, version, trained_at, start, end, json.loads(metrics), json.loads(config),
                   Path(path), status)


def training_window(con: duckdb.DuckDBPyConnection, days: int) -> tuple[date, date]:
    """The last ``days`` days of clean events, or fewer where the history is shorter."""
    first, last = sql.query(con, "select_clean_event_days")[0]
    if last is None:
        raise NoTrainingDataError(
            "clean.events is empty: materialize cleaned_events for some days first.")
    return max(first, last - timedelta(days=days - 1)), last


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique version id: UTC fit time plus a short random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def write_artifact(models_dir: Path, model_name: str, version: str,
                   write: Callable[[Path], None]) -> Path:
    """``<models_dir>/<model_name>/<version>/``: let ``write`` fill a temporary folder, then
    rename it into place, so that a crashed fit never leaves a half-written version where a
    reader could find it."""
    final = Path(models_dir) / model_name / version
    tmp = final.parent / f".tmp-{version}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def register(con: duckdb.DuckDBPyConnection, model_name: str, version: str, *,
             artifact_path: Path, metrics: dict[str, Any], config: dict[str, Any],
             window: tuple[date | str | None, date | str | None] = (None, None),
             trained_at: datetime | None = None) -> None:
    """Record a fitted version as a candidate."""
    now = datetime.now(UTC)
    sql.run(con, "insert_model_version", model_name=model_name, version=version,
            trained_at=(trained_at or now).replace(tzinfo=None),
            window_start=window[0], window_end=window[1],
            metrics=json.dumps(metrics, default=float), config=json.dumps(config, default=str),
            artifact_path=str(artifact_path), status=CANDIDATE, now=now.replace(tzinfo=None))


def set_status(con: duckdb.DuckDBPyConnection, model_name: str, version: str, status: str,
               reason: str) -> None:
    """Change one version's status. Promoting retires the previous production version in the
    same transaction, so there is never more than one."""
    if get(con, model_name, version) is None:
        raise KeyError(f"{model_name} has no version {version!r}")
    now = datetime.now(UTC).replace(tzinfo=None)
    con.begin()
    try:
        if status == PRODUCTION:
            sql.run(con, "retire_production_model", model_name=model_name, now=now,
                    reason=f"replaced by {version}")
        sql.run(con, "update_model_status", model_name=model_name, version=version,
                status=status, reason=reason, now=now)
    except BaseException:
        con.rollback()
        raise
    con.commit()


def promote(con: duckdb.DuckDBPyConnection, model_name: str, version: str, reason: str) -> None:
    set_status(con, model_name, version, PRODUCTION, reason)


def get(con: duckdb.DuckDBPyConnection, model_name: str, version: str) -> ModelVersion | None:
    rows = sql.query(con, "select_model_version", model_name=model_name, version=version)
    return ModelVersion.from_row(rows[0]) if rows else None


def versions(con: duckdb.DuckDBPyConnection, model_name: str | None = None) -> list[ModelVersion]:
    """Every version (of one model, or of all), newest first."""
    return [ModelVersion.from_row(r) for r in
            sql.query(con, "select_model_versions", model_name=model_name)]


def production(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelVersion | None:
    rows = sql.query(con, "select_production_model", model_name=model_name)
    return ModelVersion.from_row(rows[0]) if rows else None


def why_no_production(con: duckdb.DuckDBPyConnection, model_name: str,
                      asset: str | None = None) -> str:
    """Why a model has no production version, in words a reader of the UI can act on;
    ``asset``: the model asset that fits it, when that is not ``model_name`` (propensity_model
    fits one registry model per target)."""
    asset = asset or model_name
    found = versions(con, model_name)
    if not found:
        return (f"no {model_name} has been trained: run `profiling-assets train {asset}` "
                f"(or `profiling-assets run`), or materialize the {asset} asset")
    latest = found[0]
    return (f"no production {model_name}: the latest version {latest.version} is "
            f"{latest.status} (its promotion check did not pass; see the {asset} asset's "
            "checks); its outputs are left out until a version is promoted")


def require_production(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelVersion:
    """The production version, or a clear error that says how to get one."""
    found = production(con, model_name)
    if found is None:
        raise NoProductionModelError(
            f"No production version of {model_name!r} in ml.model_registry. Materialize the "
            f"{model_name} asset (it is promoted when its checks pass) before this daily asset.")
    return found


def not_worse_than_production(con: duckdb.DuckDBPyConnection, model_name: str, metric: str,
                              value: float, tolerance: float) -> tuple[bool, str]:
    """The promotion rule shared by every model: a candidate may not score below the current
    production version's ``metric`` by more than ``tolerance`` (absolute). The two figures
    come from each version's own evaluation window, so small differences are noise; the
    tolerance absorbs them while a real regression is refused."""
    current = production(con, model_name)
    if current is None or current.metrics.get(metric) is None:
        return True, "no production version to compare with"
    reference = float(current.metrics[metric])
    if value >= reference - tolerance:
        return True, f"{metric} {value:.4f} vs production {current.version} {reference:.4f} (tolerance {tolerance})"
    return False, (f"{metric} {value:.4f} is worse than production {current.version} "
                   f"({reference:.4f}) by more than {tolerance}")


def skip_without_production(context: Any, warehouse: Any, model_name: str,
                            days: list[str]) -> Any:
    """For a daily asset that applies ``model_name``: None when a production version exists;
    otherwise a materialization of no rows whose metadata says why (the day's outputs of that
    model are left out, the rest of the daily chain goes on), with a warning in the run log."""
    import dagster as dg

    from profiling_assets.metadata import days_label

    with warehouse.get_connection() as con:
        if production(con, model_name) is not None:
            return None
        reason = why_no_production(con, model_name)
    context.log.warning(f"{days_label(days)}: skipped: {reason}")
    return dg.MaterializeResult(metadata={
        "days": days_label(days), "dagster/row_count": 0, "model_version": "none",
        "skipped": reason})
