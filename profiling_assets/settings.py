"""Paths and dates from environment variables, with defaults that suit the demo.

Every path the pipeline touches is derived here so that moving the data (another
disk, a mounted bucket) is a configuration change, not a code change.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

DEFAULT_START_DATE = "2026-10-01"


class WarehouseUnavailable(Exception):
    """The warehouse file cannot be opened for writing for a reason waiting will not fix
    (raised by resources.open_warehouse; here so that the CLI can catch it cheaply)."""


def data_dir() -> Path:
    """Root of landing files, warehouse and models (``PROFILING_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("PROFILING_DATA_DIR", "data")).expanduser().resolve()


def warehouse_path() -> Path:
    """The pipeline's DuckDB file (``PROFILING_WAREHOUSE``, default ``<data>/warehouse/profiling.duckdb``)."""
    explicit = os.environ.get("PROFILING_WAREHOUSE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return data_dir() / "warehouse" / "profiling.duckdb"


def models_dir() -> Path:
    """Artifacts of fitted model versions (``PROFILING_MODELS_DIR``, default ``<data>/models``)."""
    explicit = os.environ.get("PROFILING_MODELS_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return data_dir() / "models"


def lake_catalog() -> str | None:
    """The DuckLake catalog when the warehouse is a lake (``PROFILING_LAKE_CATALOG``:
    ``sqlite:<file>``, ``postgres:<connection string>`` or a DuckDB catalog file); unset, the
    warehouse is the DuckDB file of ``warehouse_path``."""
    return os.environ.get("PROFILING_LAKE_CATALOG") or None


def lake_data_path() -> str:
    """Where the lake's Parquet files go (``PROFILING_LAKE_DATA``, default ``<data>/lake/``;
    an object-store prefix such as ``s3://bucket/lake/`` in production)."""
    return os.environ.get("PROFILING_LAKE_DATA") or str(data_dir() / "lake")


def days_per_run() -> int:
    """The most days one backfill run covers (``PROFILING_DAYS_PER_RUN``, default 31)."""
    value = os.environ.get("PROFILING_DAYS_PER_RUN", "31")
    try:
        days = int(value)
        if days < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"PROFILING_DAYS_PER_RUN={value!r} is not a whole number of days "
                         ">= 1") from None
    return days


def start_date() -> str:
    """First daily partition: ``PROFILING_START_DATE`` (ISO date) when set, else the first day
    that has landed under ``<data>/landing/events/``, else 2026-10-01 (the demo's first day)."""
    value = os.environ.get("PROFILING_START_DATE")
    if value:
        try:
            date.fromisoformat(value)  # fail at load time on a typo, not mid-run
        except ValueError:
            raise ValueError(f"PROFILING_START_DATE={value!r} is not a date (YYYY-MM-DD)") from None
        return value
    landed = landed_days()
    return landed[0] if landed else DEFAULT_START_DATE


def landed_days(root: Path | None = None) -> list[str]:
    """The days that have a landing folder (``landing/events/dt=YYYY-MM-DD``), in order."""
    folder = landing_dir(root) / "events"
    if not folder.is_dir():
        return []
    days = []
    for path in folder.glob("dt=*"):
        day = path.name.removeprefix("dt=")
        try:
            date.fromisoformat(day)
        except ValueError:
            continue  # not a day folder (dt=latest, dt=2026-13-01): never a partition
        if path.is_dir():
            days.append(day)
    return sorted(days)


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


def configuration_problems() -> list[str]:
    """What is wrong with the PROFILING_* settings, one line each, checked before any work
    starts (instead of when the first step that reads a value runs)."""
    import duckdb

    problems = []
    for read in (start_date, days_per_run):
        try:
            read()
        except ValueError as exc:
            problems.append(str(exc))
    memory = duckdb_memory_limit()
    try:
        duckdb.connect(config={"memory_limit": memory}).close()
    except duckdb.Error:
        problems.append(f"PROFILING_DUCKDB_MEMORY={memory!r} is not a memory size "
                        "(e.g. 3GB, 512MB, 80%)")
    wait = os.environ.get("PROFILING_POOL_WAIT_SECONDS")
    if wait is not None:
        try:
            if float(wait) < 0:
                raise ValueError
        except ValueError:
            problems.append(f"PROFILING_POOL_WAIT_SECONDS={wait!r} is not a number of seconds >= 0")
    if lake_catalog():
        from profiling_assets import lake

        try:
            lake.extension_directory()
        except lake.LakeUnavailable as exc:
            problems.append(f"PROFILING_LAKE_CATALOG is set but {exc}")
    for name, path in (("PROFILING_DATA_DIR", data_dir()), ("PROFILING_WAREHOUSE", warehouse_path()),
                       ("PROFILING_PUBLISHED", published_path())):
        if name != "PROFILING_DATA_DIR" and path.is_dir():
            problems.append(f"{name}={path} is a folder; it names a DuckDB file")
        if name == "PROFILING_DATA_DIR" and path.exists() and not path.is_dir():
            problems.append(f"{name}={path} is a file; it names the data folder")
    return problems
