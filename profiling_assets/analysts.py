"""The analysts' read path: a locked-down connection to the published profile copy.

The copy is opened read-only with DuckDB's external access disabled (no reading or writing
other files, no ATTACH, COPY, EXPORT or remote URLs, no extension install or load), the
configuration locked so that a statement cannot undo any of it, and a memory cap. Queries
run under a timeout (the connection is interrupted) and return at most ``limit`` rows.

DuckDB keeps one database instance per file and process while any connection to it is open,
so a long-lived process sees a newly published copy only after closing every connection to
the old one: open one per query (``run_query`` does) rather than keeping one around.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from profiling_assets import settings

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT_S = 60.0
SANDBOX = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class QueryRefused(Exception):
    """A statement the sandbox does not allow, a failed statement, or one that ran too long;
    the message is meant for the analyst."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool  # more rows existed than the limit


def open_published(path: Path | None = None, *, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    """A sandboxed, read-only connection to the analysts' copy (``settings.published_path``)."""
    path = path or settings.published_path()
    if not path.exists():
        raise QueryRefused(f"no published profile copy at {path}: run `profiling-assets demo` "
                           "or `profiling-assets run` first")
    return duckdb.connect(str(path), read_only=True,
                          config={**SANDBOX, "memory_limit": memory_limit})


def explain(exc: duckdb.Error) -> str:
    text = str(exc).split("\n")[0]
    if isinstance(exc, duckdb.PermissionException) or "disabled" in text:
        return (f"refused: the analysts' copy is sandboxed (no other files, ATTACH, COPY, "
                f"EXPORT, URLs or extensions). DuckDB said: {text}")
    if "read-only" in text:
        return f"refused: the analysts' copy is read-only. DuckDB said: {text}"
    if "configuration has been locked" in text:
        return f"refused: settings are locked on the analysts' copy. DuckDB said: {text}"
    return f"query failed: {text}"


def run_query(statement: str, *, path: Path | None = None, limit: int = DEFAULT_LIMIT,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Run ``statement`` on a fresh sandboxed connection; at most ``limit`` rows (0: all),
    interrupted after ``timeout_s`` seconds (0: never)."""
    if limit < 0:
        raise QueryRefused("the row limit must be 0 (all rows) or more")
    if timeout_s < 0:
        raise QueryRefused("the timeout must be 0 (none) or more seconds")
    with open_published(path) as con:
        timer = threading.Timer(timeout_s, con.interrupt) if timeout_s else None
        if timer:
            timer.start()
        try:
            cursor = con.execute(statement)
            if cursor.description is None:
                raise QueryRefused("the statement returned no result set")
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchmany(limit + 1) if limit else cursor.fetchall()
        except duckdb.InterruptException:
            raise QueryRefused(f"stopped after {timeout_s:g} s (raise --timeout, or narrow the "
                               "query)") from None
        except duckdb.Error as exc:
            raise QueryRefused(explain(exc)) from None
        finally:
            if timer:
                timer.cancel()
    truncated = bool(limit) and len(rows) > limit
    return QueryResult(columns, rows[:limit] if limit else rows, truncated)
