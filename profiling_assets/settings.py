"""Paths and dates from environment variables, with defaults that suit the demo.

Every path the pipeline touches is derived here so that moving the data (another
disk, a mounted bucket) is a configuration change, not a code change.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

DEFAULT_START_DATE = "2026-10-01"


def data_dir() -> Path:
    """Root of landing files, warehouse and models (``PROFILING_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("PROFILING_DATA_DIR", "data")).expanduser().resolve()


def warehouse_path() -> Path:
    """The pipeline's DuckDB file (``PROFILING_WAREHOUSE``, default ``<data>/warehouse/profiling.duckdb``)."""
    explicit = os.environ.get("PROFILING_WAREHOUSE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return data_dir() / "warehouse" / "profiling.duckdb"


def start_date() -> str:
    """First daily partition (``PROFILING_START_DATE``, ISO date)."""
    value = os.environ.get("PROFILING_START_DATE", DEFAULT_START_DATE)
    date.fromisoformat(value)  # fail at load time on a typo, not mid-run
    return value


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap for pipeline connections (``PROFILING_DUCKDB_MEMORY``, default 3GB);
    beyond it DuckDB spills to disk instead of growing."""
    return os.environ.get("PROFILING_DUCKDB_MEMORY", "3GB")


def landing_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "landing"


def events_landing_dir(day: str, root: Path | None = None) -> Path:
    return landing_dir(root) / "events" / f"dt={day}"


def published_path() -> Path:
    """The analysts' copy of the profile tables (``PROFILING_PUBLISHED``, default
    ``<data>/published/profiles.duckdb``), replaced atomically after each profile run."""
    explicit = os.environ.get("PROFILING_PUBLISHED")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return data_dir() / "published" / "profiles.duckdb"
