"""Small helpers that turn warehouse rows into Dagster metadata a reader of the UI can use."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb

from profiling_assets import sql


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview_file(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> dg.MetadataValue:
    """A markdown preview of the rows a SQL file (with its own LIMIT) returns."""
    cursor = sql.run(con, name, **params)
    columns = [d[0] for d in cursor.description]
    return dg.MetadataValue.md(markdown_table(columns, cursor.fetchall()))


def counts_table(counts: Mapping[str, int], key: str = "reason", value: str = "rows") -> dg.MetadataValue:
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return dg.MetadataValue.md(markdown_table([key, value], rows))


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
