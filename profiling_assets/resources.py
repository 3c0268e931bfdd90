"""The warehouse resource: one DuckDB file, connections taken briefly, always in UTC."""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from profiling_assets import settings, sql

# Tables every layer may touch; creating them is idempotent and cheap, so each writer
# ensures them instead of relying on a separate migration step.
SCHEMA_FILES = ("create_raw_tables", "create_clean_tables")


def warehouse_resource(path: Path | None = None) -> DuckDBResource:
    target = path or settings.warehouse_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(database=str(target))


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and pin the session to UTC (day boundaries are UTC days).

    The zone is set here rather than in the connection config because a config-time
    TimeZone needs the ICU extension before DuckDB has loaded its built-in copy.
    """
    con.execute("SET TimeZone = 'UTC'")
    for name in SCHEMA_FILES:
        sql.run(con, name)
