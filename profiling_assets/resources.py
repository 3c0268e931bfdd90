"""The warehouse resource: one DuckDB file, connections taken briefly, always in UTC."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

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
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = ?", [settings.duckdb_memory_limit()])
    # Row order of stored tables carries no meaning here (line numbers are columns), and
    # unordered inserts are markedly faster; the few statements that number rows in file
    # order switch it back on for themselves.
    con.execute("SET preserve_insertion_order = false")
    for name in SCHEMA_FILES:
        sql.run(con, name)


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
    connection prepared (UTC, memory cap, tables)."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            prepare_connection(con)
            yield con


def warehouse_resource(path: Path | None = None) -> WarehouseResource:
    return WarehouseResource(database=str(path or settings.warehouse_path()))
