"""Small helpers that turn warehouse rows into Dagster metadata a reader of the UI can use.

Tabular figures (previews, per-day counts, evaluation tables) are Dagster table metadata with a
schema, never markdown: the UI sorts and aligns them, and a reader can tell a number from text.
Markdown is left for pictures and prose.

Numbers follow one rule, the same as the analysts' ``query`` table: floats keep 4 significant
digits, and from 1,000 on they are rounded to whole numbers (0.123456 -> 0.1235, 12.3456 ->
12.35, 98765.4321 -> 98765.0); NaN and infinities become empty cells. Integers stay whole.
Lists and structs are written out as text ("[a, b]", "{name=a, share=0.5}"), the first
MAX_LIST_ITEMS items of a long list with a count of the rest.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb
import numpy as np

from profiling_assets import sql

# Every asset's owners: the team that runs the pipeline and answers for its tables.
OWNERS = ["team:data-platform"]

SIGNIFICANT_DIGITS = 4
MAX_LIST_ITEMS = 8    # an embedding is 384 floats: its first few say enough in a preview
MAX_CELL_CHARS = 200  # long enough for an error message, short enough for a table cell

# DuckDB type ids (DuckDBPyType.id) whose values reach a table record as numbers or booleans;
# every other type (dates, timestamps, text, lists, structs) is shown as text.
_DAGSTER_TYPE_BY_DUCKDB = {
    "boolean": "bool",
    **dict.fromkeys(("tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint",
                     "usmallint", "uinteger", "ubigint", "uhugeint"), "int"),
    **dict.fromkeys(("float", "double", "decimal"), "float"),
}


def round_float(value: float) -> float | None:
    """``value`` to SIGNIFICANT_DIGITS significant digits, whole from 1,000 on; None if not finite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return round(value, max(0, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))))


def _text(value: Any) -> str:
    """A nested value written out for a reader: rounded floats, lists and structs spelled out."""
    if value is None:
        return "NULL"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return str(value)
    if isinstance(value, float | Decimal):
        rounded = round_float(value)
        if rounded is None:
            return str(float(value))
        return f"{rounded:.0f}" if abs(rounded) >= 1000 else repr(rounded)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        shown = ", ".join(_text(v) for v in items[:MAX_LIST_ITEMS])
        rest = len(items) - MAX_LIST_ITEMS
        return f"[{shown}{f', … (+{rest})' if rest > 0 else ''}]"
    return str(value)


def _clip(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def cell(value: Any) -> str | int | float | bool | None:
    """One value as a table record holds it: bool, int, rounded float, or text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float | Decimal):
        return round_float(value)
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return _clip(_text(value))


def _inferred_type(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int"
    if kinds and kinds <= {int, float}:
        return "float"
    return "string"


def table_value(columns: Sequence[str], rows: Iterable[Sequence[Any]],
          types: Mapping[str, str] | None = None,
          descriptions: Mapping[str, str] | None = None) -> dg.TableMetadataValue:
    """Rows as Dagster table metadata. Column types are Dagster's ("int", "float", "bool",
    "string"): given in ``types`` or inferred from the values (a column of ints and floats is
    "float"; a column with text, or with nothing, is "string")."""
    records = [dict(zip(columns, map(cell, row), strict=True)) for row in rows]
    types = types or {}
    descriptions = descriptions or {}
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name=c, type=types.get(c) or _inferred_type(r[c] for r in records),
                       description=descriptions.get(c))
        for c in columns])
    return dg.MetadataValue.table([dg.TableRecord(r) for r in records], schema)


def dagster_type(duckdb_type: duckdb.sqltypes.DuckDBPyType) -> str:
    """The Dagster column type of a DuckDB result column, as ``cell`` hands its values on."""
    return _DAGSTER_TYPE_BY_DUCKDB.get(duckdb_type.id, "string")


def preview_file(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> dg.TableMetadataValue:
    """The rows a SQL file (with its own LIMIT) returns, as table metadata whose schema has the
    result's column names, their Dagster types and, as each column's description, its DuckDB
    type."""
    cursor = sql.run(con, name, **params)
    columns = [d[0] for d in cursor.description]
    return table_value(columns, cursor.fetchall(),
                 types={d[0]: dagster_type(d[1]) for d in cursor.description},
                 descriptions={d[0]: f"DuckDB {d[1]}" for d in cursor.description})


def counts_table(counts: Mapping[str, int], key: str = "reason", value: str = "rows") -> dg.TableMetadataValue:
    """Counts by name, largest first."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return table_value([key, value], rows, types={key: "string", value: "int"})


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """A markdown table for printed output (the bench scripts); metadata uses ``table_value``."""
    def text(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(text(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_markdown(value: dg.TableMetadataValue) -> str:
    """Table metadata back as a markdown table, for printing it."""
    names = [c.name for c in value.schema.columns]
    return markdown_table(names, [[r.data.get(n) for n in names] for r in value.records])


def with_code_references(assets: Sequence[Any], sql_by_asset: Mapping[str, Sequence[str]]) -> list:
    """Each asset linked to the Python function that builds it (Dagster's source code
    references) and then to the SQL files it runs (``sql/<stem>.sql`` for each stem that
    ``sql_by_asset`` names under its key), so that the UI's code links open both. Paths are
    absolute, from where the package finds ``sql/``; nothing is fetched."""
    def add_sql(spec: dg.AssetSpec) -> dg.AssetSpec:
        stems = sql_by_asset.get(spec.key.to_user_string(), ())
        existing = spec.metadata.get("dagster/code_references")
        references = [*(existing.code_references if existing else []),
                      *(dg.LocalFileCodeReference(file_path=str(sql.SQL_DIR / f"{stem}.sql"),
                                                  label=f"sql/{stem}.sql") for stem in stems)]
        return spec.replace_attributes(metadata={
            **spec.metadata,
            "dagster/code_references": dg.CodeReferencesMetadataValue(code_references=references)})

    # Code references are a beta API: its warning would print on every load of the code
    # location and every CLI command, and says nothing a user can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.map_asset_specs(add_sql, dg.with_source_code_references(assets))


def days_label(days: Sequence[str]) -> str:
    """The partition keys a run covered, as a reader of the UI wants them: one day, or a range."""
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def day_logger(context: Any, days: Sequence[str], lines: int = 12) -> Callable[[str, str], None]:
    """A per-day log for a run over ``days``: every day of a short range, about ``lines``
    evenly spaced days (and the last) of a long one. Each log line is a write to the event
    log, which for a year of small days cost more than the days' work; the per-day figures
    stay complete in the metadata."""
    every = 1 if len(days) <= 31 else -(-len(days) // lines)
    index = {day: i for i, day in enumerate(days)}

    def log(day: str, message: str) -> None:
        i = index.get(day, 0)
        if i % every == 0 or i == len(days) - 1:
            context.log.info(f"{day}: {message}" if every == 1 else
                             f"{day} ({i + 1}/{len(days)}): {message}")

    return log
