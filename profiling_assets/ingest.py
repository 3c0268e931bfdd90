"""Raw layer: landing files in, every line accounted for.

``raw_events`` reads one day's landing folder. Each line becomes a typed row of
``raw.events`` or a verbatim row of ``raw.events_rejected`` with the reason, and
``raw.ingest_files`` records how many lines each file had, so that the counts can be
reconciled independently. ``raw_users`` and ``raw_products`` load the snapshot files.
"""


import csv
import gzip
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dagster_duckdb import DuckDBResource

from profiling_assets import pictures, settings, sql
from profiling_assets.columns import table_metadata
from profiling_assets.metadata import (
    OWNERS,
    counts_table,
    day_logger,
    days_label,
    preview_file,
    table_value,
)
from profiling_assets.partitions import daily_asset, day_check
from profiling_assets.resources import prepare_connection, replace_partition, transaction

# Suffix -> reader. Longest suffixes first so that ".jsonl.gz" is not taken for ".gz".
EVENT_FORMATS: dict[str, str] = {
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
    ".json.gz": "jsonl",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv.gz": "csv",
    ".csv": "csv",
    ".parquet": "parquet",
}
# Ids longer than this are refused ('id_too_long'): real ids are short keys, and a huge one
# is junk that would bloat every table and index it reaches.
MAX_ID_LENGTH = 256
# Bounded memory per file: lines are handed to DuckDB in blocks of about this many bytes.
CHUNK_BYTES = 64 * 1024 * 1024
BATCH_ROWS = 32_768
T = TypeVar("T")


# An empty file of this name in a day's folder says the day is complete: with no event files
# beside it the day is an empty (closed) day even when no later day has landed yet.
COMPLETE_MARKER = "_SUCCESS"


class NoLandingFilesError(Exception):
    """A day was asked for whose data has not landed: its folder holds no event files and
    neither a completion marker nor a later day says that the day is over."""


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in EVENT_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def landing_files(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Supported event files in a folder (sorted by name) and the files that were ignored."""
    if not folder.is_dir():
        return [], []
    supported, ignored = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith((".", "_")):
            continue  # editor and OS droppings (.DS_Store, partial uploads), _SUCCESS markers
        fmt = file_format(path)
        if fmt:
            supported.append((path, fmt))
        else:
            ignored.append(path)
    return supported, ignored


def _newline_positions(data: bytes, window: int = 1 << 18) -> np.ndarray:
    """Offsets of every b"\\n"; in cache-sized windows, which is several times faster than
    one flatnonzero over a whole block."""
    buf = np.frombuffer(data, dtype=np.uint8)
    found = [np.flatnonzero(buf[i : i + window] == 10) + i for i in range(0, len(buf), window)]
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def _lines_table(data: bytes | memoryview, first_line_no: int) -> pa.Table:
    """An Arrow table (line_no, line) over ``data``, which ends with a newline; zero-copy."""
    newlines = _newline_positions(data)
    offsets = np.concatenate([[0], newlines + 1]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(newlines), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        # Not UTF-8: keep every line, with undecodable bytes shown as U+FFFD.
        return _lines_table(bytes(data).decode("utf-8", errors="replace").encode("utf-8"),
                            first_line_no)
    line_no = np.arange(first_line_no, first_line_no + len(newlines), dtype=np.int64)
    table = pa.table({"line_no": line_no, "line": lines})
    # Several record batches let DuckDB parse them on all cores; one batch is one thread.
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS))


def iter_line_blocks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pa.Table]:
    """Physical lines of a (possibly gzipped) text file as Arrow tables of about chunk_bytes."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    next_line_no = 1
    carry = b""
    with opener(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            table = _lines_table(memoryview(data)[: cut + 1], next_line_no)
            next_line_no += table.num_rows
            yield table
    if carry:  # last line without a trailing newline
        yield _lines_table(carry + b"\n", next_line_no)


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """The items of ``items``, each next one made in a thread while the caller works on the
    current one: decompressing and splitting the next block of a file (zlib, numpy and Arrow
    let go of the GIL) overlaps DuckDB's parsing of this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="ingest-read") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


@dataclass
class FileReport:
    source_file: str
    file_format: str
    lines_read: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None  # set when the file could not be read to its end
    file_bytes: int = 0
    note: str | None = None   # a file-wide refusal, e.g. a CSV header without event_id

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class CsvHeader:
    names: list[str]
    delimiter: str
    problem: str | None  # why the header is refused ('bad_header'), None when it is usable


CSV_DELIMITERS = (",", ";", "\t", "|")
CONTRACT_COLUMNS = ("event_id", "ts", "user_id", "session_id", "event_type", "product_id",
                    "price", "quantity", "query", "review_text", "rating", "device")
# Without these no line of the file can be an event; the others may be absent.
REQUIRED_COLUMNS = ("event_id", "ts", "user_id", "event_type")


def csv_header(path: Path) -> CsvHeader | None:
    """The header row of a CSV landing file (None for an empty file), with the delimiter that
    splits it into the most contract columns. A header lacking a required column, or naming
    one twice, is a problem: every record of the file is then refused as 'bad_header'."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
        first = handle.readline().lstrip("\ufeff").rstrip("\r\n")
    if not first.strip():
        return None

    def split(delimiter: str) -> list[str]:
        return [n.strip() for n in next(csv.reader([first], delimiter=delimiter, quotechar='"'))]

    delimiter = max(CSV_DELIMITERS, key=lambda d: len({n.lower() for n in split(d)} & set(CONTRACT_COLUMNS)))
    names = [n or f"unnamed_{i + 1}" for i, n in enumerate(split(delimiter))]
    lowered = [n.lower() for n in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in lowered]
    repeated = sorted({n for n in lowered if lowered.count(n) > 1})
    problem = None
    if missing or repeated:
        problem = "; ".join(part for part in (
            f"header lacks {', '.join(missing)}" if missing else "",
            f"header repeats {', '.join(repeated)}" if repeated else "") if part)
        problem += f" (header: {first[:200]!r})"
        if repeated:  # distinct names so that the records can still be read and counted
            names = [f"{n}_{i + 1}" for i, n in enumerate(names)]
    return CsvHeader(names, delimiter, problem)


def nested_contract_columns(path: Path) -> list[str]:
    """Contract columns of a Parquet file whose type is nested (read as text they would become
    ids like '[1, 2]')."""
    schema = pq.read_schema(path)
    return [f.name for f in schema if f.name.lower() in CONTRACT_COLUMNS and pa.types.is_nested(f.type)]


def _refuse_after_runaway_quote(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A quote left open with no closing quote before the end makes DuckDB's reader take the
    rest of the file as one value: refuse each physical line after it as 'csv_unrecoverable'
    (counted one by one) instead of hiding them in one rejected record."""
    line = sql.query(con, "select_csv_runaway_quote")[0][0]
    if line is None:
        return
    for block in iter_line_blocks(path):
        if block["line_no"][-1].as_py() <= line:
            continue
        con.register("lines", block)
        try:
            sql.run(con, "stage_csv_unrecoverable_lines", line=line)
        finally:
            con.unregister("lines")


# What reading a bad file raises: truncated or corrupt gzip (EOFError, BadGzipFile/zlib.error,
# both OSError), a vanished file (FileNotFoundError), or DuckDB's readers (corrupt Parquet,
# a CSV whose structure it cannot follow).
UNREADABLE = (duckdb.Error, OSError, EOFError, zlib.error, pa.ArrowException)


def suppression(con: duckdb.DuckDBPyConnection) -> dict:
    """The parameters that keep forgotten users out (``$suppress``, ``$forget_key``); the key
    is only read (or created) once someone has been forgotten."""
    if not sql.query(con, "count_suppressed_users")[0][0]:
        return {"suppress": False, "forget_key": ""}
    from profiling_assets.forget import suppression_key

    return {"suppress": True, "forget_key": suppression_key()}


def _stage_typed(con: duckdb.DuckDBPyConnection, report: FileReport, suppress: dict) -> None:
    """Type the current ``staged`` relation into the day's ``day_typed`` (counted per file
    once every file has been read, see ``_count_lines``)."""
    sql.run(con, "type_staged_events")
    sql.run(con, "append_day_typed", source_file=report.source_file,
            max_id_length=MAX_ID_LENGTH, **suppress)


def _count_lines(con: duckdb.DuckDBPyConnection, reports: list[FileReport]) -> None:
    """Lines read, accepted and rejected by reason of each file, from what day_typed holds
    (a file that failed holds nothing there and keeps its zeros)."""
    by_file = {r.source_file: r for r in reports}
    for source_file, outcome, n in sql.query(con, "summarize_typed_events"):
        report = by_file[source_file]
        report.lines_read += n
        if outcome == "accepted":
            report.accepted += n
        else:
            report.rejected[outcome] += n


def stage_events_file(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, suppress: dict,
    progress: Callable[[str], None] | None = None,
) -> FileReport:
    """Read one landing file into the day's ``day_typed`` rows (outside any transaction). A
    file that cannot be read to its end leaves no row there and comes back with ``error``
    set, naming the file; the day's other files are unaffected."""
    started = time.perf_counter()
    report = FileReport(source_file=str(path), file_format=fmt)
    try:
        report.file_bytes = path.stat().st_size
        if fmt == "jsonl":
            for block in prefetched(iter_line_blocks(path)):
                con.register("lines", block)
                try:
                    sql.run(con, "stage_jsonl_lines")
                    _stage_typed(con, report, suppress)
                finally:
                    con.unregister("lines")
                if progress:
                    progress(f"{path.name}: {block['line_no'][-1].as_py():,} lines")
        elif fmt == "csv":
            sql.run(con, "create_event_contract")
            header = csv_header(path)
            if header is not None:  # an empty file has no lines to account for
                report.note = header.problem
                sql.run(con, "stage_csv_file", path=str(path), delim=header.delimiter,
                        columns=dict.fromkeys(header.names, "VARCHAR"),
                        bad_header=header.problem is not None)
                _refuse_after_runaway_quote(con, path)
                _stage_typed(con, report, suppress)
        else:
            nested = nested_contract_columns(path)
            if nested:
                report.note = f"columns {', '.join(nested)} hold lists, structs or maps, not values"
            sql.run(con, "create_event_contract")
            sql.run(con, "stage_parquet_file", path=str(path), nested=bool(nested))
            _stage_typed(con, report, suppress)
    except UNREADABLE as exc:
        sql.run(con, "drop_day_typed_file", source_file=report.source_file)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        report.error = f"{path.name}: {type(exc).__name__}{': ' + detail if detail else ''}"[:500]
    report.seconds = time.perf_counter() - started
    return report


def day_is_over(day: str, folder: Path, data_dir: Path) -> bool:
    """A day without event files is an empty day (closed shop, outage), not missing data, when
    its folder carries the completion marker or a later day has landed."""
    if (folder / COMPLETE_MARKER).is_file():
        return True
    landed = settings.landed_days(data_dir)
    return bool(landed) and landed[-1] > day


@dataclass
class DayReport:
    day: str
    folder: Path
    files: list[FileReport]
    ignored: list[Path]

    @property
    def empty(self) -> bool:
        return not self.files

    @property
    def lines_read(self) -> int:
        return sum(f.lines_read for f in self.files)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.failed]

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def rejected_by_reason(self) -> Counter:
        return sum((f.rejected for f in self.files), Counter())


INGEST_FILE_SCHEMA = pa.schema([("source_file", pa.string()), ("file_format", pa.string()),
                                 ("file_bytes", pa.int64()), ("lines_read", pa.int64()),
                                 ("status", pa.string()), ("error", pa.string())])


def _ingest_file_rows(reports: list[FileReport]) -> pa.Table:
    """One row per landing file for raw.ingest_files (typed even when the day has none)."""
    return pa.Table.from_pylist(
        [{"source_file": r.source_file, "file_format": r.file_format, "file_bytes": r.file_bytes,
          "lines_read": r.lines_read, "status": "failed" if r.failed else "loaded",
          "error": r.error} for r in reports], schema=INGEST_FILE_SCHEMA)


def ingest_day(
    con: duckdb.DuckDBPyConnection, day: str, data_dir: Path,
    progress: Callable[[str], None] | None = None,
) -> DayReport:
    """Replace one day of the raw layer with the contents of its landing folder, atomically."""
    folder = settings.events_landing_dir(day, data_dir)
    files, ignored = landing_files(folder)
    if not files and not day_is_over(day, folder, data_dir):
        found = f" (it holds only unsupported files: {[p.name for p in ignored]})" if ignored else ""
        raise NoLandingFilesError(
            f"No landing files for {day} yet: looked in {folder}{found}, and no later day has "
            f"landed. Expected event files named *{', *'.join(EVENT_FORMATS)}; if the day had no "
            f"events (a closed day), create an empty {folder / COMPLETE_MARKER} to say so."
        )
    loaded_at = datetime.now(UTC)
    prepare_connection(con)
    suppress = suppression(con)
    sql.run(con, "create_day_typed")
    try:
        reports = [stage_events_file(con, path, fmt, suppress, progress) for path, fmt in files]
        _count_lines(con, reports)
        con.register("ingest_file_reports", _ingest_file_rows(reports))
        replace_partition(con, "raw_events", then=["insert_ingest_file"], day=day,
                          loaded_at=loaded_at)
    finally:
        sql.run(con, "drop_day_typed")
        con.unregister("ingest_file_reports")
    return DayReport(day=day, folder=folder, files=reports, ignored=ignored)


def _day_metadata(con: duckdb.DuckDBPyConnection, reports: list[DayReport]) -> dict:
    files = [f for r in reports for f in r.files]
    lines = sum(r.lines_read for r in reports)
    accepted = sum(r.accepted for r in reports)
    rejected = sum((r.rejected_by_reason for r in reports), Counter())
    seconds = sum(f.seconds for f in files)
    last = reports[-1].day
    empty = [r.day for r in reports if r.empty]
    meta = {
        "days": days_label([r.day for r in reports]),
        "empty_days": (("no landing files: empty day" if len(reports) == 1 else
                        f"{len(empty)} without landing files (empty days): {', '.join(empty)}")
                       if empty else "none"),
        "dagster/row_count": accepted,
        "lines_read": lines,
        "accepted": accepted,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": counts_table(dict(rejected)) if rejected else "none",
        "files": table_value(
            ["day", "file", "format", "status", "lines", "accepted", "rejected", "seconds", "note"],
            [(r.day, Path(f.source_file).name, f.file_format, "failed" if f.failed else "loaded",
              f.lines_read, f.accepted, sum(f.rejected.values()), f.seconds,
              f.error or f.note or "") for r in reports for f in r.files],
            types={"seconds": "float"}),
        "failed_files": (table_value(
            ["day", "error"], [(r.day, f.error) for r in reports for f in r.failed])
            if any(r.failed for r in reports) else "none"),
        "lines_per_second": round(lines / seconds) if seconds else 0,
        "lines_plot": pictures.stacked_bars(
            [r.day for r in reports],
            {"lines": {"accepted": [r.accepted for r in reports],
                       "rejected": [sum(r.rejected_by_reason.values()) for r in reports]},
             "rejected lines": {reason: [r.rejected_by_reason[reason] for r in reports]
                                for reason in sorted(rejected)}},
            f"raw_events: lines per day, {days_label([r.day for r in reports])}",
            outline=("lines read", [r.lines_read for r in reports])),
        "rejected_share": dg.MetadataValue.float(sum(rejected.values()) / lines if lines else 0.0),
        **{f"rejected_{reason}": dg.MetadataValue.int(n) for reason, n in sorted(rejected.items())},
        "preview": preview_file(con, "preview_raw_events", day=last),
    }
    ignored = [str(p) for r in reports for p in r.ignored]
    if ignored:
        meta["ignored_files"] = dg.MetadataValue.json(ignored)
    return meta


def _reconciliation_check(con: duckdb.DuckDBPyConnection, days: list[str]) -> dg.AssetCheckResult:
    rows = sql.query(con, "reconcile_raw_events", first_day=days[0], last_day=days[-1])
    mismatched = [r[:5] for r in rows if r[2] != r[3] + r[4]]
    failed = [(r[0], Path(r[1]).name, r[6]) for r in rows if r[5] == "failed"]
    return dg.AssetCheckResult(
        check_name="lines_reconcile",
        passed=not mismatched,
        description=(f"{len(failed)} file(s) could not be read and were skipped: "
                     f"{'; '.join(f[2] for f in failed)}"[:1000] if failed else None),
        metadata={
            "files_checked": len(rows),
            "mismatched_files": table_value(
                ["day", "file", "lines_read", "accepted", "rejected"], mismatched) if mismatched else "none",
            "failed_files": table_value(["day", "file", "error"], failed) if failed else "none",
        },
    )


def _readable_check(reports: list["DayReport"]) -> dg.AssetCheckResult:
    failed = [(r.day, f.error) for r in reports for f in r.failed]
    return dg.AssetCheckResult(
        check_name="every_file_readable", passed=not failed, severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(failed)} unreadable file(s) skipped; fix or replace them and re-run "
                     "the day" if failed else "every landing file was read to its end"),
        metadata={"failed_files": table_value(["day", "error"], failed) if failed else "none"})


@daily_asset(
    table="raw.events",
    group_name="ingest",
    kinds={"duckdb", "python"},
    check_specs=[
        day_check("lines_reconcile", "raw_events",
            description="For every landing file of the day: lines read = accepted + rejected "
                        "(a file that could not be read counts 0 lines and is listed)."),
        day_check("every_file_readable", "raw_events",
            description="Every landing file of the day was read to its end. A truncated, "
                        "corrupt or vanished file is skipped, recorded in raw.ingest_files with "
                        "status 'failed' and its error, and named here (a warning); the day's "
                        "other files load."),
    ],
)
def raw_events(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Every line of a day's landing files (JSONL, JSONL.gz, CSV, Parquet under
    landing/events/dt=YYYY-MM-DD/) as a typed row of raw.events or, refused with a reason,
    a verbatim row of raw.events_rejected. Re-running a day replaces exactly that day."""
    days = list(context.partition_keys)
    data_dir = settings.data_dir()
    reports = []
    log = day_logger(context, days)
    with warehouse.get_connection() as con:
        for day in days:
            report = ingest_day(con, day, data_dir,
                                progress=context.log.debug if len(days) == 1 else None)
            if report.empty:
                log(day, f"no landing files in {report.folder}: empty day")
            else:
                log(day, f"{report.lines_read:,} lines from {len(report.files)} file(s): "
                         f"{report.accepted:,} accepted, "
                         f"{sum(report.rejected_by_reason.values()):,} rejected")
            for path in report.ignored:
                context.log.warning(f"{day}: ignored unsupported file {path}")
            for f in report.failed:
                context.log.warning(f"{day}: could not read {f.source_file}, skipped: {f.error}")
            for f in report.files:
                if f.note:
                    context.log.warning(f"{day}: every record of {f.source_file} refused: {f.note}")
            reports.append(report)
        yield dg.MaterializeResult(metadata=_day_metadata(con, reports))
        yield _reconciliation_check(con, days)
        yield _readable_check(reports)


def _snapshot_files(kind: str) -> tuple[list[Path], list[Path]]:
    folder = settings.landing_dir() / kind
    if not folder.is_dir():
        return [], []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in files if p.name.lower().endswith((".csv", ".csv.gz"))], [
        p for p in files if not p.name.lower().endswith((".csv", ".csv.gz"))
    ]


def load_snapshot(con: duckdb.DuckDBPyConnection, kind: str, files: list[Path]) -> dict:
    """Replace raw.<kind> with the snapshot files; returns rows loaded and rejected by reason."""
    loaded_at = datetime.now(UTC)
    with transaction(con):
        if files:
            extra = suppression(con) if kind == "users" else {}
            sql.run(con, f"load_raw_{kind}", paths=[str(p) for p in files], loaded_at=loaded_at,
                    **extra)
        else:
            sql.run(con, "delete_raw_snapshot", identifiers={"table": ("raw", kind)}, kind=kind)
    counts = dict(sql.query(con, "summarize_raw_snapshot", identifiers={"table": ("raw", kind)},
                            kind=kind))
    return {"rows": counts.pop(None), "rejected": counts}


def _snapshot_asset(kind: str, description: str):
    @dg.asset(name=f"raw_{kind}", group_name="ingest", kinds={"duckdb"}, pool="duckdb",
              description=description, owners=OWNERS, metadata=table_metadata(f"raw.{kind}"))
    def _asset(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
        files, ignored = _snapshot_files(kind)
        for path in ignored:
            context.log.warning(f"ignored unsupported {kind} file {path} (CSV expected)")
        if not files:
            context.log.warning(
                f"no {kind} files in {settings.landing_dir() / kind}: raw.{kind} is empty and "
                f"downstream {kind} attributes will be missing"
            )
        with warehouse.get_connection() as con:
            result = load_snapshot(con, kind, files)
            return dg.MaterializeResult(metadata={
                "dagster/row_count": result["rows"],
                "source_files": dg.MetadataValue.json([str(p) for p in files]),
                "rejected_by_reason": counts_table(result["rejected"]) if result["rejected"] else "none",
                "missing_source": not files,
                "preview": preview_file(con, f"preview_raw_{kind}"),
            })

    return _asset


raw_users = _snapshot_asset(
    "users",
    "Registration snapshot from landing/users/*.csv (latest row per user_id). The only table "
    "holding PII (email, phone); nothing downstream selects those columns.",
)
raw_products = _snapshot_asset(
    "products",
    "Product catalogue snapshot from landing/products/*.csv (latest row per product_id): "
    "title, description, category, brand, list price.",
)
