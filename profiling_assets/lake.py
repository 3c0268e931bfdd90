"""The DuckLake warehouse: the same schemas, SQL and assets as the embedded DuckDB file, with
the tables stored as Parquet data files under a catalog database (a SQLite or DuckDB file on
one machine, PostgreSQL in production). Each process attaches the lake to an in-memory DuckDB,
so several processes write partitions at once; a commit that conflicts with another's is
retried (see ``retrying``).

Chosen by ``PROFILING_LAKE_CATALOG`` (see settings.lake_catalog); the extensions come from the
``duckdb-ext-*`` packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from profiling_assets import sql

ALIAS = "lake"
# DuckLake keeps NOT NULL but has no key constraints and stores vectors as lists: the lake's
# tables are the same DDL without PRIMARY KEY clauses and with FLOAT[] for FLOAT[n]. Keys stay
# checked where they matter by the asset checks and by the writes' delete-then-insert.
_PRIMARY_KEY = re.compile(r",\s*PRIMARY KEY\s*\([^)]*\)|\s+PRIMARY KEY\b", re.IGNORECASE)
_FIXED_ARRAY = re.compile(r"\b(FLOAT|DOUBLE)\[\d+\]", re.IGNORECASE)
# A conflict with another process's commit, or the SQLite catalog busy with one: the
# transaction is rolled back whole, so running it again is safe.
_RETRYABLE = ("conflict", "database is locked", "busy")
# doubling from 50 ms to 5 s, then every 5 s: about two minutes in all (a day's commit at
# 1M events holds the catalog for seconds)
RETRY_WAITS = tuple(min(0.05 * 2 ** i, 5.0) for i in range(30))

T = TypeVar("T")


class LakeUnavailable(Exception):
    """The lake cannot be attached (extension missing, catalog unreachable)."""


def table_ddl(statement: str) -> str:
    """A schema file's statement as DuckLake takes it."""
    return _FIXED_ARRAY.sub(r"\1[]", _PRIMARY_KEY.sub("", statement))


def extension_directory() -> str:
    """The folder holding ``v<duckdb version>/<platform>/*.duckdb_extension`` from the
    ``duckdb-ext-ducklake`` / ``duckdb-ext-sqlite`` packages."""
    spec = importlib.util.find_spec("duckdb_ext")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        root = Path(folder) / "extensions"
        if (root / f"v{duckdb.__version__}").is_dir():
            return str(root)
    raise LakeUnavailable(
        f"the DuckLake extension for duckdb {duckdb.__version__} is not installed: the "
        "duckdb-ext-ducklake and duckdb-ext-sqlite packages of that version provide it")


def catalog_file(catalog: str) -> Path | None:
    """A local catalog's file (``sqlite:<file>``, ``duckdb:<file>`` or a bare path), made
    absolute (runs start in other folders); None for a server (``postgres:...``)."""
    kind, sep, rest = catalog.partition(":")
    if sep and kind == "postgres":
        return None
    return Path(rest if sep and kind in ("sqlite", "duckdb") else catalog).expanduser().resolve()


def catalog_uri(catalog: str) -> str:
    """``ducklake:<catalog>``, a local file's path absolute."""
    kind, sep, _ = catalog.partition(":")
    path = catalog_file(catalog)
    if path is None:
        return f"ducklake:{catalog}"
    return f"ducklake:{kind}:{path}" if sep and kind in ("sqlite", "duckdb") else f"ducklake:{path}"


def connect(catalog: str, data_path: str, *, read_only: bool = False,
            config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``lake`` and in use. Local data folders
    are created; an object-store path (``s3://...``) needs the httpfs extension and its
    credentials as a DuckDB secret."""
    local = "://" not in data_path
    if not read_only:
        if local:
            Path(data_path).mkdir(parents=True, exist_ok=True)
        path = catalog_file(catalog)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if catalog.startswith("sqlite:") and not path.exists():
                with sqlite3.connect(path) as db:
                    (pragma,) = sql.statements("set_lake_catalog_wal")
                    db.execute(pragma)
    try:
        con = duckdb.connect(config={
            "extension_directory": extension_directory(), "autoinstall_known_extensions": False,
            **(config or {})})
        if data_path.startswith("s3://"):
            store_secret(con)
        folder = str(Path(data_path).resolve()) + "/" if local else data_path
        sql.run(con, "attach_lake_read_only" if read_only else "attach_lake",
                literals={"catalog": catalog_uri(catalog), "data_path": folder})
    except duckdb.Error as exc:
        raise LakeUnavailable(f"cannot attach the lake {catalog} (data {data_path}): "
                              f"{str(exc).splitlines()[0]}") from None
    return con


def store_secret(con: duckdb.DuckDBPyConnection) -> None:
    """The object store's credentials as a DuckDB secret, from AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_REGION and, for an S3-compatible store, AWS_ENDPOINT_URL."""
    missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(v)]
    if missing:
        raise LakeUnavailable(f"an s3:// lake needs {' and '.join(missing)} in the environment")
    keys = {"key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
            "region": os.environ.get("AWS_REGION", "us-east-1")}
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        sql.run(con, "create_lake_store_secret_endpoint", literals={
            **keys, "endpoint": host.rstrip("/"), "use_ssl": str(scheme != "http").lower()})
    else:
        sql.run(con, "create_lake_store_secret", literals=keys)


def retryable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and any(word in text for word in _RETRYABLE)


def retrying(write: Callable[[], T], *, waits: tuple[float, ...] = RETRY_WAITS) -> T:
    """Run ``write`` (one whole transaction) again while it fails on a commit conflict, with
    jittered, doubling waits; any other error, or the last conflict, is raised."""
    for wait in (*waits, None):
        try:
            return write()
        except duckdb.Error as exc:
            if wait is None or not retryable(exc):
                raise
            time.sleep(wait * (0.5 + random.random()))
    raise AssertionError("unreachable")
