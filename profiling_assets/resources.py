"""The warehouse resource: one DuckDB file, connections taken briefly, always in UTC."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from profiling_assets import settings, sql

# Tables every layer may touch; creating them is idempotent and cheap, so each writer
# prepares its connection instead of relying on a separate migration step.
SCHEMA_FILES = (
    "create_raw_tables", "create_clean_tables", "create_features_tables", "create_ml_tables",
    "create_factor_tables", "create_text_tables", "create_segment_tables",
    "create_profile_tables",
)


def prepare_connection(con: duckdb.DuckDBPyConnection) -> None:
    """Pin the session to UTC (day boundaries are UTC days), cap DuckDB's memory and create
    missing tables.

    The zone is set here rather than in the connection config because a config-time
    TimeZone needs the ICU extension before DuckDB has loaded its built-in copy.
    """
    # Once per connection: ranged runs open a transaction per day and asset, and creating
    # the schemas each time cost more than the day's work on small days.
    if con.execute("SELECT getvariable('profiling_prepared')").fetchone()[0]:
        return
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = ?", [settings.duckdb_memory_limit()])
    # Row order of stored tables carries no meaning here (line numbers are columns), and
    # unordered inserts are markedly faster; the few statements that number rows in file
    # order switch it back on for themselves.
    con.execute("SET preserve_insertion_order = false")
    # The tables exist once the schema files have run on this warehouse: their digest is
    # stored, and a connection to a warehouse at the same digest skips the CREATE statements
    # (a third of a connection's cost), while a changed schema file runs them all again.
    sql.run(con, "create_schema_state")
    if sql.query(con, "select_schema_state", digest=schema_digest())[0][0] == 0:
        for name in SCHEMA_FILES:
            sql.run(con, name)
        sql.run(con, "replace_schema_state", digest=schema_digest())
    con.execute("SET VARIABLE profiling_prepared = true")


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


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, with the warehouse folder created on first use and every
    connection prepared (UTC, memory cap, tables).

    While a run (or a step, with a multiprocess executor) executes, the resource keeps one
    connection open. DuckDB shares a process's open database between its connections, so the
    brief connections the assets take for each day cost milliseconds instead of reopening the
    file and checkpointing it on every close (about 50 ms, a minute per asset for a year of
    days). The file stays locked for the run, as the single-writer pool has it anyway;
    read-only readers from other processes (the retrain sensors) skip while it runs."""

    _keeper: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Opened lazily by the first get_connection: a run that never touches the warehouse
        # (a failed config check, a skipped step) never locks it.
        self._keeper = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            if self._keeper is None:
                # the same settings as the resource's own connections (DuckDB refuses a second
                # connection to an open file with other settings)
                self._keeper = duckdb.connect(self.database, config={
                    "custom_user_agent": "dagster", **self.connection_config})
            prepare_connection(con)
            yield con


def warehouse_resource(path: Path | None = None) -> WarehouseResource:
    return WarehouseResource(database=str(path or settings.warehouse_path()))
