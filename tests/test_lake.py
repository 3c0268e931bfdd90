"""The DuckLake warehouse mode: the same assets give the same tables as the embedded DuckDB
file, and partitions built by two processes at once give what one process builds in turn."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from profiling_assets import (
    cleaning,
    factors,
    features,
    ingest,
    lake,
    profiles,
    retraining,
    scores,
    segments,
    synthetic,
)
from profiling_assets.resources import pipeline_resources

START = date(2026, 10, 1)
DAYS = 3
INGEST = ["raw_events", "cleaned_events", "user_daily_activity", "user_features"]
# the daily assets that run without trained models (fallback recommendations, NULL scores,
# the profiles and their published copy)
CHAIN = [*INGEST, "recommendations", "user_segments", "user_scores", "user_profiles"]
ASSETS = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
          features.user_daily_activity, features.user_features, factors.recommendations,
          segments.user_segments, scores.user_scores, profiles.user_profiles]


def _day(i: int) -> str:
    return (START + timedelta(days=i)).isoformat()


def _build(resources: dict, selection: list[str], days: list[str]) -> None:
    """One run per day, as a backfill with a run per partition does."""
    instance = dg.DagsterInstance.ephemeral()
    for day in days:
        assert dg.materialize(ASSETS, selection=selection, resources=resources, instance=instance,
                              partition_key=day).success


def _build_range(resources: dict, selection: list[str], days: list[str],
                 instance: dg.DagsterInstance | None = None) -> None:
    """One run over the days, as `profiling-assets run` does."""
    assert dg.materialize(ASSETS, selection=selection, resources=resources,
                          instance=instance or dg.DagsterInstance.ephemeral(),
                          tags={"dagster/asset_partition_range_start": days[0],
                                "dagster/asset_partition_range_end": days[-1]}).success


def _lake(root: Path, name: str) -> dict:
    return pipeline_resources(models_dir=root / "models", lake_catalog=f"sqlite:{root / name}.sqlite",
                              lake_data_path=str(root / f"{name}-files"))


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every table's rows in a stable order, without the columns that record when a row was
    written (loaded_at, created_at, ...), floating-point values to 10 significant digits (a
    parallel sum adds in varying order, so its last bits vary from build to build)."""
    out = {}
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
        "AND table_schema NOT IN ('meta') ORDER BY ALL").fetchall()
    for schema, name in tables:
        cols = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog "
            "= current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name]).fetchall()
        listed = ", ".join(f'"{c}"' for c, t in cols if not c.endswith("_at") and "[" not in t)
        out[f"{schema}.{name}"] = _norm(con.execute(
            f'SELECT {listed} FROM "{schema}"."{name}" ORDER BY ALL').fetchall())
    return out


def _norm(value):
    """Rows with every float, nested ones too, to 10 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, list | tuple):
        return type(value)(_norm(v) for v in value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _read(resources: dict) -> dict[str, list[tuple]]:
    con = resources["warehouse"].connect_read_only()
    try:
        return _tables(con)
    finally:
        con.close()


@pytest.fixture
def demo_days(data_dir: Path) -> Path:
    synthetic.generate(data_dir, users=300, products=60, days=DAYS, start=START, seed=11)
    return data_dir


def test_lake_chain_gives_the_embedded_tables(demo_days: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    days = [_day(i) for i in range(DAYS)]
    embedded = pipeline_resources(demo_days / "warehouse" / "test.duckdb", demo_days / "models")
    in_lake = _lake(tmp_path, "lake")
    for resources, published in ((embedded, "embedded"), (in_lake, "lake")):
        monkeypatch.setenv("PROFILING_PUBLISHED", str(tmp_path / f"{published}.duckdb"))
        instance = dg.DagsterInstance.ephemeral()
        assert dg.materialize(ASSETS, selection=["raw_users", "raw_products"],
                              resources=resources, instance=instance).success
        _build_range(resources, CHAIN, days)
    want, got = _read(embedded), _read(in_lake)
    assert sorted(got) == sorted(want)
    assert sum(map(len, want.values())) > 1000
    for table, rows in want.items():
        assert got[table] == rows, table
    # the Parquet files are the lake's storage; the analysts' copy is a DuckDB file either way
    assert list((tmp_path / "lake-files").rglob("*.parquet"))
    with duckdb.connect(str(tmp_path / "lake.duckdb"), read_only=True) as pub:
        lake_profiles = _norm(pub.execute("SELECT * EXCLUDE (updated_at) FROM user_profiles "
                                          "ORDER BY user_id").fetchall())
    with duckdb.connect(str(tmp_path / "embedded.duckdb"), read_only=True) as pub:
        assert lake_profiles == _norm(pub.execute(
            "SELECT * EXCLUDE (updated_at) FROM user_profiles ORDER BY user_id").fetchall())


def _ingest_day(catalog: str, data_path: str, models: str, day: str) -> None:
    resources = pipeline_resources(models_dir=Path(models), lake_catalog=catalog,
                                   lake_data_path=data_path)
    _build(resources, INGEST[:3], [day])


def test_two_processes_write_partitions_at_once(demo_days: Path, tmp_path: Path) -> None:
    """Two processes ingest different days into one lake at the same time (DuckLake retries
    a commit that conflicts); the tables equal those of one process building the days in
    turn, and every day is there."""
    days = [_day(i) for i in range(DAYS)]
    serial, parallel = _lake(tmp_path, "serial"), _lake(tmp_path, "parallel")
    for resources in (serial, parallel):
        assert dg.materialize(ASSETS, selection=["raw_users", "raw_products"],
                              resources=resources, instance=dg.DagsterInstance.ephemeral()).success
    _build(serial, INGEST[:3], days)
    w = parallel["warehouse"]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_ingest_day, [w.lake_catalog] * DAYS, [w.lake_data_path] * DAYS,
                      [str(demo_days / "models")] * DAYS, days))
    want, got = _read(serial), _read(parallel)
    assert got == want
    con = w.connect_read_only()
    try:
        assert [str(d) for (d,) in con.execute(
            "SELECT DISTINCT activity_date FROM features.user_daily_activity ORDER BY 1").fetchall()
        ] == days
    finally:
        con.close()


def test_retrain_sensor_reads_the_lake(demo_days: Path, tmp_path: Path) -> None:
    """The retrain sensors read a lake through the same resource: with days ingested and no
    svd_model yet, the tick asks for a first fit (not "warehouse missing")."""
    resources = _lake(tmp_path, "lake")
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(ASSETS, selection=["raw_users", "raw_products"], resources=resources,
                          instance=instance).success
    _build_range(resources, INGEST[:2], [_day(i) for i in range(DAYS)], instance)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        decision, _ = retraining.decide(context, "svd_model", "train_svd", resources["warehouse"])
    assert isinstance(decision, dg.RunRequest), decision


def test_retrying_runs_a_conflicting_write_again() -> None:
    calls = []

    def write() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.TransactionException("Transaction conflict: another transaction wrote")
        return "written"

    assert lake.retrying(write, waits=(0.0, 0.0, 0.0)) == "written"
    assert len(calls) == 3
    def missing_table() -> None:
        raise duckdb.CatalogException("no such table")

    with pytest.raises(duckdb.CatalogException):
        lake.retrying(missing_table, waits=(0.0,))


def test_lake_ddl_keeps_not_null_and_drops_what_ducklake_lacks() -> None:
    ddl = ("CREATE TABLE IF NOT EXISTS ml.t (\n    a VARCHAR NOT NULL,\n    v FLOAT[384],\n"
           "    k VARCHAR PRIMARY KEY,\n    PRIMARY KEY (a, k)\n)")
    assert lake.table_ddl(ddl) == ("CREATE TABLE IF NOT EXISTS ml.t (\n    a VARCHAR NOT NULL,"
                                   "\n    v FLOAT[],\n    k VARCHAR\n)")
