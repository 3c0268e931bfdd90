"""The warehouse resource: one DuckDB file (or a DuckLake, see lake.py), connections taken
briefly, always in UTC."""

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from profiling_assets import lake, registry, settings, signals, sql
from profiling_assets.settings import WarehouseUnavailable

# Tables every layer may touch; creating them is idempotent and cheap, so each writer
# prepares its connection instead of relying on a separate migration step.
SCHEMA_FILES = (
    "create_raw_tables", "create_clean_tables", "create_features_tables", "create_ml_tables",
    "create_factor_tables", "create_text_tables", "create_segment_tables", "create_score_tables",
    "create_profile_tables", "create_privacy_tables",
)


def prepare_connection(con: duckdb.DuckDBPyConnection, *, in_lake: bool = False,
                       tables: bool = True) -> None:
    """Pin the session to UTC (day boundaries are UTC days), cap DuckDB's memory and create
    missing tables (``in_lake``: as DuckLake takes their DDL, see lake.table_ddl; ``tables``
    False: a cursor of a connection that created them).

    The zone is set here rather than in the connection config because a config-time
    TimeZone needs the ICU extension before DuckDB has loaded its built-in copy.
    """
    # Once per connection: ranged runs open a transaction per day and asset, and creating
    # the schemas each time cost more than the day's work on small days.
    if sql.query(con, "select_connection_prepared")[0][0]:
        return
    sql.run(con, "set_connection_settings", memory_limit=settings.duckdb_memory_limit())
    # The tables exist once the schema files have run on this warehouse: their digest is
    # stored, and a connection to a warehouse at the same digest skips the CREATE statements
    # (a third of a connection's cost), while a changed schema file runs them all again.
    if tables:
        sql.run(con, "create_schema_state")
        if sql.query(con, "select_schema_state", digest=schema_digest())[0][0] == 0:
            if not in_lake:
                drop_stale_keys(con)
            for name in SCHEMA_FILES:
                if in_lake:
                    for statement in sql.statements(name):
                        con.execute(lake.table_ddl(statement))
                else:
                    sql.run(con, name)
            # per-day counts for the days cleaned before clean.event_signals existed
            signals.fill_event_signals(con)
            sql.run(con, "replace_schema_state", digest=schema_digest())
    sql.run(con, "mark_connection_prepared")


# Tables written a day (or a model version) at a time, whose rows are unique by construction:
# they have no primary key, as its index cost more than the day's work itself at a million rows
# a day (ml.recommendations about 10 s a write; the daily profile, text-interest and segment
# tables 4-6 s each), growing with history. The file that creates each one, for warehouses
# made while they had the key.
KEYLESS_TABLES = {
    ("ml", "recommendations"): "create_factor_tables",
    ("ml", "user_factors"): "create_factor_tables",
    ("ml", "user_segments"): "create_segment_tables",
    ("ml", "user_text_profile"): "create_text_tables",
    ("profiles", "user_profiles_history"): "create_profile_tables",
}


def drop_stale_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Give each table of KEYLESS_TABLES that still has its primary key (a warehouse made
    before the key was dropped) the same table without it, rows and NOT NULLs kept, all in one
    transaction. Returns the tables changed."""
    keyed = [t for t in map(tuple, sql.query(con, "select_keyed_tables")) if t in KEYLESS_TABLES]
    if not keyed:
        return []
    con.begin()
    try:
        for schema, table in keyed:
            sql.run(con, "rename_keyed_table", identifiers={"table": (schema, table),
                                                            "keyed": f"{table}_keyed"})
            sql.run(con, KEYLESS_TABLES[schema, table])
            sql.run(con, "move_keyed_table", identifiers={"table": (schema, table),
                                                          "keyed_table": (schema, f"{table}_keyed")})
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return [f"{schema}.{table}" for schema, table in keyed]


@cache
def schema_digest() -> str:
    return hashlib.sha256("".join(";".join(sql.statements(n)) for n in SCHEMA_FILES)
                          .encode()).hexdigest()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Prepare the connection and run the block as one transaction: a partition is replaced
    whole or, on any error, left as it was."""
    prepare_connection(con)
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def replace_partition(con: duckdb.DuckDBPyConnection, stem: str, *, rows: Any = None,
                      by: str = "partition",
                      then: Iterable[str | Callable[[duckdb.DuckDBPyConnection], None]] = (),
                      **params: Any) -> None:
    """Replace one partition of the table ``stem`` names, in one transaction: run
    ``sql/delete_<stem>_<by>.sql``, then ``sql/insert_<stem>.sql`` (which reads ``rows``, an
    Arrow table or DataFrame, registered as ``new_<stem>``; none to insert when it is empty),
    then each of ``then`` (a SQL stem run with the same parameters, or a function of the
    connection). Every partition write of
    the pipeline goes through here, so a re-run replaces exactly its partition and a failure
    leaves the previous one in place. A commit that conflicts with another process's (a lake
    written by parallel runs) is rolled back and the whole replacement runs again."""
    lake.retrying(lambda: _replace(con, stem, rows, by, then, params))


def _replace(con: duckdb.DuckDBPyConnection, stem: str, rows: Any, by: str,
             then: Iterable[str | Callable[[duckdb.DuckDBPyConnection], None]],
             params: dict[str, Any]) -> None:
    with transaction(con):
        sql.run(con, f"delete_{stem}_{by}", **params)
        if rows is None:
            sql.run(con, f"insert_{stem}", **params)
        elif len(rows):
            con.register(f"new_{stem}", rows)
            try:
                sql.run(con, f"insert_{stem}", **params)
            finally:
                con.unregister(f"new_{stem}")
        for step in then:
            if callable(step):
                step(con)
            else:
                sql.run(con, step, **params)


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, with the warehouse folder created on first use and every
    connection prepared (UTC, memory cap, tables). With ``lake_catalog`` set, the warehouse is
    that DuckLake instead of the file ``database`` names: each process attaches it once and
    the assets' connections are cursors of that connection; several processes may write.

    While a run (or a step, with a multiprocess executor) executes, the resource keeps one
    connection open. DuckDB shares a process's open database between its connections, so the
    brief connections the assets take for each day cost milliseconds instead of reopening the
    file and checkpointing it on every close (about 50 ms, a minute per asset for a year of
    days). The file stays locked for the run, as the single-writer pool has it anyway;
    read-only readers from other processes (the retrain sensors) skip while it runs."""

    lake_catalog: str = Field(default="", description=(
        "DuckLake catalog (PROFILING_LAKE_CATALOG): sqlite:<file>, postgres:<connection "
        "string> or a DuckDB file; empty for the embedded DuckDB file `database`"))
    lake_data_path: str = Field(default="", description=(
        "folder or object-store prefix of the lake's Parquet files (PROFILING_LAKE_DATA)"))

    _keeper: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Opened lazily by the first get_connection: a run that never touches the warehouse
        # (a failed config check, a skipped step) never locks it.
        self._keeper = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    def connect_read_only(self) -> duckdb.DuckDBPyConnection:
        """A reader outside any run (a retrain sensor's tick): raises duckdb.IOException while
        a run holds the file's write lock, and never creates the file. A lake is read while
        runs write it, from its last commit."""
        if self.lake_catalog:
            return lake.connect(self.lake_catalog, self.lake_data_path, read_only=True)
        return duckdb.connect(self.database, read_only=True)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.lake_catalog:
            with self._lake_connection() as con:
                yield con
            return
        con = open_warehouse(Path(self.database), self.connection_config)
        try:
            if self._keeper is None:
                # the same settings as the resource's own connections (DuckDB refuses a second
                # connection to an open file with other settings)
                self._keeper = duckdb.connect(self.database, config={
                    "custom_user_agent": "dagster", **self.connection_config})
            prepare_connection(con)
            yield con
        finally:
            con.close()


    @contextmanager
    def _lake_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = _lake_keeper(self.lake_catalog, self.lake_data_path,
                           tuple(sorted(self.connection_config.items()))).cursor()
        try:
            sql.run(con, "use_lake")
            prepare_connection(con, tables=False)
            yield con
        finally:
            con.close()


@cache
def _lake_keeper(catalog: str, data_path: str,
                 config: tuple[tuple[str, Any], ...]) -> duckdb.DuckDBPyConnection:
    """This process's connection to a lake, attached and its tables made once (a second each:
    loading the extensions and reading the catalog), shared by every run the process executes;
    the assets get cursors of it. Unlike the embedded file, it holds no lock to give back."""
    con = lake.connect(catalog, data_path, config=dict(config))
    # tables created by two processes at once: the loser's statement conflicts
    lake.retrying(lambda: prepare_connection(con, in_lake=True))
    return con


# Another process holding the file's lock (a sensor's read, a run in another pool) lets go
# within seconds; these waits add up to about 100 s before giving up.
LOCK_WAITS = tuple(0.1 * 2 ** i for i in range(10))


def open_warehouse(path: Path, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the warehouse. A lock held by another process is waited
    for; anything else (a read-only or full disk, a folder that cannot be created, a file
    that is not a DuckDB database) fails at once, naming the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseUnavailable(f"cannot create the warehouse folder {path.parent}: "
                                   f"{exc.strerror or exc}") from None
    config = {"custom_user_agent": "dagster", **(config or {})}
    for wait in (*LOCK_WAITS, None):
        try:
            return duckdb.connect(str(path), read_only=False, config=config)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise WarehouseUnavailable(f"cannot open the warehouse {path} for writing: "
                                           f"{text.splitlines()[0]}") from None
            if wait is None:
                raise WarehouseUnavailable(
                    f"the warehouse {path} stayed locked by another process for "
                    f"{sum(LOCK_WAITS):.0f} s: {text.splitlines()[0]}") from None
            time.sleep(wait)
    raise AssertionError("unreachable")


def warehouse_resource(path: Path | None = None, *, lake_catalog: str | None = None,
                       lake_data_path: str | None = None) -> WarehouseResource:
    """The warehouse the settings name (a lake when PROFILING_LAKE_CATALOG is set), or the
    given file or lake."""
    catalog = lake_catalog if lake_catalog is not None else (
        None if path is not None else settings.lake_catalog())
    if catalog:
        data = lake_data_path or settings.lake_data_path()
        return WarehouseResource(database=f"ducklake:{catalog}", lake_catalog=catalog,
                                 lake_data_path=str(data))
    return WarehouseResource(database=str(path or settings.warehouse_path()))


class ModelRegistryResource(dg.ConfigurableResource):
    """Where the model assets write fitted versions: ``<models_dir>/<model>/<version>/``. The
    registry's rows (status, metrics, window) live in the warehouse's ml.model_registry and
    point at these folders."""

    models_dir: str = Field(description="folder of model artifacts (PROFILING_MODELS_DIR; "
                                        "default <PROFILING_DATA_DIR>/models)")

    def write_artifact(self, model_name: str, version: str,
                       write: Callable[[Path], None]) -> Path:
        """The new version's folder, filled by ``write`` and renamed into place."""
        return registry.write_artifact(Path(self.models_dir), model_name, version, write)


def model_registry_resource(models_dir: Path | None = None) -> ModelRegistryResource:
    if models_dir is None and os.environ.get("PROFILING_MODELS_DIR"):
        # shown as an environment variable in the UI, read when a run starts
        return ModelRegistryResource(models_dir=dg.EnvVar("PROFILING_MODELS_DIR"))
    return ModelRegistryResource(models_dir=str(models_dir or settings.models_dir()))


def pipeline_resources(warehouse: Path | None = None, models_dir: Path | None = None, *,
                       lake_catalog: str | None = None,
                       lake_data_path: str | None = None) -> dict[str, dg.ConfigurableResource]:
    """Every resource the assets and sensors take, from the settings or the given paths."""
    return {"warehouse": warehouse_resource(warehouse, lake_catalog=lake_catalog,
                                            lake_data_path=lake_data_path),
            "model_registry": model_registry_resource(models_dir)}
