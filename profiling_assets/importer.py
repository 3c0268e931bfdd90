"""``profiling-assets import``: map an export from another system onto the raw event contract.

Order-line exports (the "Online Retail" datasets and the like) are read in chunks, each row
is mapped with a YAML mapping (see docs/importing.md) and written to the daily landing
folders as ``landing/events/dt=YYYY-MM-DD/import-<stem>.jsonl.gz``. Rows that cannot be
mapped go to ``landing/rejects/<stem>.rejects.csv`` with a reason, so that
rows read = rows mapped + rows rejected. An optional product table is derived from the
mapped rows. Re-importing the same file replaces its earlier output. An import that would
reject more than a set share of its rows fails instead and writes nothing.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import os
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from profiling_assets.terminal import Bar, report

CONTRACT_FIELDS = ("event_id", "ts", "user_id", "session_id", "event_type", "product_id",
                   "price", "quantity", "query", "review_text", "rating", "device")
REQUIRED_FIELDS = ("event_id", "ts", "user_id", "event_type")
EVENT_TYPES = frozenset({"view", "cart", "purchase", "search", "review", "return"})
# Event types whose rows describe goods changing hands: they need a price and a quantity.
PRICED_TYPES = ["purchase", "cart", "return"]
PRODUCT_COLUMNS = ("product_id", "title", "description", "category", "brand", "price")
ROW_PLACEHOLDER = "row"
INT_MAX = 2**31 - 1

TOP_KEYS = ("source", "fields", "returns", "exclude", "products")
SOURCE_KEYS = ("format", "delimiter", "encoding", "encoding_errors", "decimal")
# Options that only mean something when the file is parsed as text; Parquet carries its own.
CSV_ONLY_KEYS = ("delimiter", "encoding", "encoding_errors")
SPEC_KEYS = ("column", "constant", "template", "strip", "normalize_id", "case", "prefix", "values")
TS_KEYS = ("format", "timezone")
RETURNS_KEYS = ("negative_quantity", "cancel_column", "cancel_prefix")
EXCLUDE_KEYS = ("product_ids", "product_pattern", "zero_price")

# A time of day followed by a zone designator: such values are converted, not localized.
# The time part is required so that a date such as 2010-12-01 is not read as "zone -01".
_ZONED = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[zZ]|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"
_FLOAT_ID = r"^([+-]?\d+)\.0*$"
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# How a file's first bytes are described when they contradict the mapping or the file name.
CONTENT_NAMES = {"parquet": "Parquet", "gzip": "gzip-compressed data", "text": "CSV/text",
                 "zip": "a ZIP archive (an Excel .xlsx workbook?)", "binary": "binary data",
                 "empty": "an empty file"}

DEFAULT_MAX_REJECT_SHARE = 0.5
TOP_REASONS = 5  # reasons listed when an import fails for too many rejects


class MappingError(ValueError):
    """The mapping file is invalid or does not fit the export it is applied to."""


class ImportFailed(RuntimeError):
    """The export could not be read; nothing was written."""


class TooManyRejects(ImportFailed):
    """More rows were rejected than the import allows; nothing was written.

    ``summary`` holds the counts the message describes (rows_read, rejected_by_reason, ...)."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


# --------------------------------------------------------------------------- mapping


@dataclass
class FieldSpec:
    """Where one output value comes from and how its text is normalised."""

    where: str  # mapping key, for error messages
    column: str | None = None
    constant: str | None = None
    template: str | None = None
    strip: bool = True
    normalize_id: bool = False
    case: str | None = None
    prefix: str = ""
    values: dict[str, str] = field(default_factory=dict)
    ts_format: str | None = None
    timezone: str | None = None

    def columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return [n for n in _PLACEHOLDER.findall(self.template) if n != ROW_PLACEHOLDER]
        return []


@dataclass
class Mapping:
    path: Path
    fmt: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    encoding_errors: str = "strict"
    decimal: str = "."
    csv_keys: tuple[str, ...] = ()  # the CSV-only source keys the mapping sets, for notes
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    negative_quantity_is_return: bool = True
    cancel_column: str | None = None
    cancel_prefix: str = "C"
    exclude_ids: frozenset[str] = frozenset()
    exclude_pattern: re.Pattern | None = None
    reject_zero_price: bool = True
    products: dict[str, FieldSpec | None] | None = None

    def referenced_columns(self) -> list[tuple[str, str]]:
        """(mapping key, column) for every source column the mapping reads."""
        refs = [(spec.where, c) for spec in self.fields.values() for c in spec.columns()]
        if self.cancel_column:
            refs.append(("returns.cancel_column", self.cancel_column))
        for spec in (self.products or {}).values():
            if spec is not None:
                refs.extend((spec.where, c) for c in spec.columns())
        return refs


def _fail(mapping_path: Path, where: str, message: str) -> MappingError:
    return MappingError(f"{mapping_path}: {where}: {message}")


def _check_keys(mapping_path: Path, where: str, value: Any, allowed: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(mapping_path, where, f"expected a mapping of keys, got {value!r}")
    for key in value:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise _fail(mapping_path, f"{where}.{key}" if where else str(key),
                        f"unknown key{suggestion}; allowed here: {', '.join(allowed)}")
    return value


def _scalar_text(mapping_path: Path, where: str, value: Any) -> str:
    # YAML 1.1 reads unquoted yes/no/on/off as booleans: a stock code "NO" must be quoted.
    if isinstance(value, bool):
        raise _fail(mapping_path, where, f"{value!r} was read as a boolean; quote it")
    if not isinstance(value, (str, int, float)):
        raise _fail(mapping_path, where, f"expected text or a number, got {value!r}")
    return str(value)


def _bool(mapping_path: Path, where: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(mapping_path, where, f"expected true or false, got {value!r}")
    return value


def _parse_spec(mapping_path: Path, where: str, raw: Any, *, is_ts: bool = False) -> FieldSpec | None:
    if raw is None:
        return None
    if isinstance(raw, str):  # shorthand: the name of a source column
        raw = {"column": raw}
    allowed = SPEC_KEYS + TS_KEYS if is_ts else SPEC_KEYS
    raw = _check_keys(mapping_path, where, raw, allowed)
    sources = [k for k in ("column", "constant", "template") if k in raw]
    if len(sources) != 1:
        raise _fail(mapping_path, where, "give exactly one of column, constant or template")
    spec = FieldSpec(where=where)
    if "column" in raw:
        spec.column = _scalar_text(mapping_path, f"{where}.column", raw["column"])
    elif "template" in raw:
        spec.template = _scalar_text(mapping_path, f"{where}.template", raw["template"])
        if not _PLACEHOLDER.search(spec.template):
            raise _fail(mapping_path, f"{where}.template",
                        "a template needs at least one {column} or {row} placeholder")
    elif raw["constant"] is not None:
        spec.constant = _scalar_text(mapping_path, f"{where}.constant", raw["constant"])
    spec.strip = _bool(mapping_path, f"{where}.strip", raw.get("strip"), True)
    spec.normalize_id = _bool(mapping_path, f"{where}.normalize_id", raw.get("normalize_id"), False)
    if raw.get("case") not in (None, "upper", "lower"):
        raise _fail(mapping_path, f"{where}.case", f"use upper or lower, not {raw['case']!r}")
    spec.case = raw.get("case")
    if raw.get("prefix") is not None:
        spec.prefix = _scalar_text(mapping_path, f"{where}.prefix", raw["prefix"])
    values = raw.get("values") or {}
    if not isinstance(values, dict):
        raise _fail(mapping_path, f"{where}.values", "expected a mapping of source value: output value")
    spec.values = {_scalar_text(mapping_path, f"{where}.values", k):
                   _scalar_text(mapping_path, f"{where}.values.{k}", v) for k, v in values.items()}
    if is_ts:
        fmt = raw.get("format")
        spec.ts_format = None if fmt in (None, "iso") else _scalar_text(mapping_path, f"{where}.format", fmt)
        if raw.get("timezone") is not None:
            spec.timezone = _scalar_text(mapping_path, f"{where}.timezone", raw["timezone"])
            try:
                ZoneInfo(spec.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise _fail(mapping_path, f"{where}.timezone",
                            f"unknown time zone {spec.timezone!r} (use an IANA name such as "
                            "Europe/London or UTC)") from None
    return spec


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file; raises MappingError with the offending key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    raw = _check_keys(path, "", raw, TOP_KEYS)
    m = Mapping(path=path)

    source = _check_keys(path, "source", raw.get("source"), SOURCE_KEYS)
    if source.get("format") not in (None, "csv", "parquet"):
        raise _fail(path, "source.format", f"use csv or parquet, not {source['format']!r}")
    m.fmt = source.get("format")
    for key in ("delimiter", "encoding", "encoding_errors", "decimal"):
        if source.get(key) is not None:
            setattr(m, key, _scalar_text(path, f"source.{key}", source[key]))
    m.csv_keys = tuple(key for key in CSV_ONLY_KEYS if source.get(key) is not None)
    if len(m.delimiter) != 1 or len(m.decimal) != 1:
        raise _fail(path, "source", "delimiter and decimal must be single characters")

    fields = _check_keys(path, "fields", raw.get("fields"), CONTRACT_FIELDS)
    for name in REQUIRED_FIELDS:
        if fields.get(name) is None:
            raise _fail(path, f"fields.{name}", "is required (a column, constant or template)")
    for name, value in fields.items():
        spec = _parse_spec(path, f"fields.{name}", value, is_ts=name == "ts")
        if spec is not None:
            m.fields[name] = spec
    if m.fields["ts"].constant is not None:
        raise _fail(path, "fields.ts", "a timestamp must come from a column")

    returns = _check_keys(path, "returns", raw.get("returns"), RETURNS_KEYS)
    m.negative_quantity_is_return = _bool(path, "returns.negative_quantity",
                                          returns.get("negative_quantity"), True)
    if returns.get("cancel_column") is not None:
        m.cancel_column = _scalar_text(path, "returns.cancel_column", returns["cancel_column"])
    if returns.get("cancel_prefix") is not None:
        m.cancel_prefix = _scalar_text(path, "returns.cancel_prefix", returns["cancel_prefix"])
        if not m.cancel_prefix:
            raise _fail(path, "returns.cancel_prefix", "must not be empty")

    exclude = _check_keys(path, "exclude", raw.get("exclude"), EXCLUDE_KEYS)
    ids = exclude.get("product_ids") or []
    if not isinstance(ids, list):
        raise _fail(path, "exclude.product_ids", "expected a list of product ids")
    m.exclude_ids = frozenset(_scalar_text(path, "exclude.product_ids", v) for v in ids)
    if exclude.get("product_pattern") is not None:
        pattern = _scalar_text(path, "exclude.product_pattern", exclude["product_pattern"])
        try:
            m.exclude_pattern = re.compile(pattern)
        except re.error as exc:
            raise _fail(path, "exclude.product_pattern", f"not a valid regular expression: {exc}") from None
    m.reject_zero_price = _bool(path, "exclude.zero_price", exclude.get("zero_price"), True)

    if "products" in raw:
        products = _check_keys(path, "products", raw["products"], PRODUCT_COLUMNS)
        m.products = {name: _parse_spec(path, f"products.{name}", products.get(name))
                      for name in PRODUCT_COLUMNS}
        # Product rows must join the events, so by default they use the events' own ids and prices.
        m.products["product_id"] = m.products["product_id"] or m.fields.get("product_id")
        m.products["price"] = m.products["price"] or m.fields.get("price")
        if m.products["product_id"] is None:
            raise _fail(path, "products.product_id",
                        "needed (or map fields.product_id) to write a product table")
    return m


# --------------------------------------------------------------------------- reading


def source_stem(source: Path) -> str:
    """The name that identifies an import's output files: file name without suffixes,
    limited to characters that are safe in file names and glob patterns."""
    name = source.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem = Path(name).stem or name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)


@dataclass
class SourceKind:
    """How an export is read: decided by its content where that is certain, else its name."""

    fmt: str  # csv or parquet
    compression: str | None = "infer"  # for pandas.read_csv
    notes: list[str] = field(default_factory=list)  # things the user should know, not errors


def _sniff(source: Path) -> str:
    """What the first bytes say the file is (a key of CONTENT_NAMES)."""
    with open(source, "rb") as handle:
        head = handle.read(512)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if not head:
        return "empty"
    # Only a description for messages: UTF-16 CSV has NUL bytes too and still reads as CSV.
    return "binary" if b"\x00" in head else "text"


def _named_format(source: Path) -> str | None:
    name = source.name.lower().removesuffix(".gz")
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def _parquet_note(source: Path, mapping: Mapping, named: str | None) -> list[str]:
    """Tell the user which of their CSV settings a Parquet file made irrelevant."""
    ignored = ["source.format: csv"] if mapping.fmt == "csv" else []
    if mapping.csv_keys:
        ignored.append("the CSV-only " + ", ".join(f"source.{key}" for key in mapping.csv_keys))
    if not ignored and named != "csv":
        return []
    named_as = f" although named {source.suffix}" if named == "csv" else ""
    what = f"; ignored {' and '.join(ignored)} from {mapping.path}" if ignored else ""
    note = f"note: {source.name} is a Parquet file (by its content){named_as}, so it is read as Parquet"
    return [note + what]


def _looks(content: str) -> str:
    return (f"looks like {CONTENT_NAMES[content]}, not Parquet "
            "(it does not start with the Parquet magic bytes PAR1)")


def _named_parquet_error(source: Path, mapping: Mapping, content: str) -> Exception:
    """A file named .parquet whose content is not Parquet: the name or the file is wrong."""
    advice = "Rename it if it is CSV, or re-export it if it should be Parquet."
    if mapping.fmt == "csv":
        return MappingError(f"{mapping.path}: source.format: the mapping says csv, but {source} is "
                            f"named {source.suffix}, and its content {_looks(content)}. {advice}")
    return ImportFailed(f"{source} is named {source.suffix}, but its content {_looks(content)}. {advice}")


def resolve_source(source: Path, mapping: Mapping) -> SourceKind:
    """Decide how to read ``source``. A Parquet file says so in its first bytes (PAR1) and
    describes its own columns and types, so it is read as Parquet whatever the mapping or the
    name says. Anything else is CSV, unless the mapping or the name insists on Parquet: that
    contradiction is an error, since reading it either way would produce garbage."""
    content = _sniff(source)
    named = _named_format(source)
    if content == "parquet":
        return SourceKind("parquet", None, _parquet_note(source, mapping, named))
    if mapping.fmt == "parquet":
        raise MappingError(f"{mapping.path}: source.format: the mapping says parquet, but {source} "
                           f"{_looks(content)}. Fix source.format (or leave it out), or import the "
                           "Parquet file.")
    if named == "parquet":
        raise _named_parquet_error(source, mapping, content)
    if mapping.fmt == "csv" or named == "csv":
        # gzip by content, not by name: a gzipped CSV saved without .gz still reads
        return SourceKind("csv", "gzip" if content == "gzip" else "infer")
    raise MappingError(f"cannot tell the format of {source.name}: its content {_looks(content)}, "
                       f"and its name does not say; set source.format in {mapping.path}")


def _csv_options(mapping: Mapping, kind: SourceKind) -> dict:
    # Everything as text and no NA guessing: rejects then show exactly what the file held.
    return {"sep": mapping.delimiter, "encoding": mapping.encoding, "compression": kind.compression,
            "encoding_errors": mapping.encoding_errors, "dtype": str, "keep_default_na": False}


def _source_columns(source: Path, kind: SourceKind, mapping: Mapping) -> list[str]:
    try:
        if kind.fmt == "parquet":
            return list(pq.ParquetFile(source).schema_arrow.names)
        return [str(c) for c in pd.read_csv(source, nrows=0, **_csv_options(mapping, kind)).columns]
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pa.ArrowException) as exc:  # ParserError, UnicodeDecodeError
        raise ImportFailed(f"cannot read the header of {source}: {str(exc).strip()}") from None


def _check_columns(mapping: Mapping, columns: list[str], source: Path) -> None:
    present = set(columns)
    for where, column in mapping.referenced_columns():
        if column not in present:
            hint = difflib.get_close_matches(column, columns, n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise MappingError(
                f"{mapping.path}: {where} refers to column {column!r}, which is not in "
                f"{source.name} (columns: {', '.join(columns)}).{suggestion}")


# Integer columns with nulls would otherwise become floats in the chunks that hold a null and
# stay integers in the others, so an id built from one would read "7" or "7.0" by chunk.
_NULLABLE_INTS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                  pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                  pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}


def estimated_rows(source: Path, kind: SourceKind) -> int | None:
    """Rows of the export for a progress bar: a Parquet file says; an uncompressed CSV is
    counted by its line ends (a quoted line break counts one too many); None for a compressed
    one (no total then, only the rate)."""
    if kind.fmt == "parquet":
        return pq.ParquetFile(source).metadata.num_rows
    if _sniff(source) != "text":
        return None
    lines, last = 0, b""
    with open(source, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last not in (b"", b"\n")) - 1, 0)  # a last line without "\n"; the header


def _read_chunks(source: Path, kind: SourceKind, mapping: Mapping, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if kind.fmt == "parquet":
        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas(types_mapper=_NULLABLE_INTS.get)
        return
    with pd.read_csv(source, chunksize=chunk_rows, **_csv_options(mapping, kind)) as reader:
        yield from reader


# --------------------------------------------------------------------------- mapping rows


def _raw_text(spec: FieldSpec | None, df: pd.DataFrame, rows: pd.Series) -> pd.Series:
    """The field's source text per row (string dtype, NA where absent), before normalisation."""
    if spec is None or (spec.column is None and spec.template is None and spec.constant is None):
        return pd.Series(pd.NA, index=df.index, dtype="string")
    if spec.constant is not None:
        return pd.Series(spec.constant, index=df.index, dtype="string")
    if spec.column is not None:
        return df[spec.column].astype("string")
    out = pd.Series("", index=df.index, dtype="string")
    for i, piece in enumerate(_PLACEHOLDER.split(spec.template or "")):
        if i % 2 == 0:
            out = out + piece
        elif piece == ROW_PLACEHOLDER:
            out = out + rows.astype("string")
        else:
            out = out + df[piece].astype("string").str.strip().fillna("")
    return out


def _normalise(spec: FieldSpec | None, text: pd.Series, *, prefix: bool = True) -> pd.Series:
    if spec is None:
        return text
    if spec.strip:
        text = text.str.strip()
    text = text.mask(text == "")
    if spec.values:
        text = text.replace(spec.values)
    if spec.normalize_id:
        text = text.str.replace(_FLOAT_ID, r"\1", regex=True)
    if spec.case == "upper":
        text = text.str.upper()
    elif spec.case == "lower":
        text = text.str.lower()
    if prefix and spec.prefix:
        text = spec.prefix + text  # NA stays NA
    return text


def _field(spec: FieldSpec | None, df: pd.DataFrame, rows: pd.Series) -> pd.Series:
    return _normalise(spec, _raw_text(spec, df, rows))


def _numbers(text: pd.Series, decimal: str) -> np.ndarray:
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    parsed = pd.to_numeric(text, errors="coerce")
    return pd.array(parsed, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)


def _flag(series: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(series, pd.Series):
        # a copy: arrays from Arrow-backed series can be read-only, and callers combine in place
        return np.array(series.fillna(False), dtype=bool)
    return np.array(series, dtype=bool)


def _timestamps(spec: FieldSpec, df: pd.DataFrame, rows: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps (NaT where unusable) and each row's timestamp reject reason ('' if fine)."""
    utc = pd.Series(pd.NaT, index=df.index, dtype="datetime64[us, UTC]")
    reason = np.full(len(df), "", dtype=object)
    # Ambiguous local times (the repeated hour in autumn) take the first, summer-time reading;
    # times skipped in spring are moved forward: both are rare and neither is a bad row.
    def localize(naive: pd.Series) -> pd.Series:
        local = naive.dt.tz_localize(spec.timezone, ambiguous=np.ones(len(naive), dtype=bool),
                                     nonexistent="shift_forward")
        return local.dt.tz_convert("UTC")

    column = df[spec.column] if spec.column is not None else None
    if column is not None and pd.api.types.is_datetime64_any_dtype(column.dtype):
        # Typed timestamps (Parquet): no parsing, only the zone question.
        if column.dt.tz is not None:
            utc[:] = column.dt.tz_convert("UTC")
        elif spec.timezone:
            utc[:] = localize(column)
        else:
            reason[_flag(column.notna())] = "timestamp_without_zone"
        reason[_flag(utc.isna()) & (reason == "")] = "bad_timestamp"
        return utc, reason

    text = _field(spec, df, rows)
    zoned = _flag(text.str.contains(_ZONED, regex=True))
    fmt = spec.ts_format or "ISO8601"
    if zoned.any():
        utc[zoned] = pd.to_datetime(text[zoned], format=fmt, utc=True, errors="coerce")
    naive = ~zoned & _flag(text.notna())
    if naive.any():
        parsed = pd.to_datetime(text[naive], format=fmt, errors="coerce")
        if parsed.dt.tz is not None:  # a %z format matched text the zone test did not
            utc[naive] = parsed.dt.tz_convert("UTC")
        elif spec.timezone:
            utc[naive] = localize(parsed)
        else:  # a readable time, but which instant it names is unknown
            reason[naive] = np.where(_flag(parsed.notna()), "timestamp_without_zone", "")
    reason[_flag(utc.isna()) & (reason == "")] = "bad_timestamp"
    return utc, reason


@dataclass
class _MappedChunk:
    events: pd.DataFrame  # contract columns, accepted rows only
    days: pd.Series  # UTC day per accepted row
    reasons: np.ndarray  # per input row; '' = accepted
    is_return: np.ndarray  # per accepted row
    product_frame: pd.DataFrame | None  # product columns, accepted rows only


def _map_chunk(df: pd.DataFrame, m: Mapping, first_row: int) -> _MappedChunk:
    df = df.reset_index(drop=True)
    n = len(df)
    rows = pd.Series(np.arange(first_row, first_row + n), index=df.index)
    spec = m.fields.get
    text = {name: _field(spec(name), df, rows) for name in CONTRACT_FIELDS
            if name not in ("ts", "price", "quantity", "rating")}
    ts, ts_reason = _timestamps(m.fields["ts"], df, rows)

    # Event type, then returns: a cancelled invoice or a negative quantity is a return.
    base_type = text["event_type"].str.lower()
    qty_text = _field(spec("quantity"), df, rows)
    qty = _numbers(qty_text, m.decimal)
    qty_present = _flag(qty_text.notna())
    negative = np.nan_to_num(qty, nan=0.0) < 0
    is_return = _flag(base_type == "return")
    if m.cancel_column:
        cancel = _raw_text(FieldSpec("returns.cancel_column", column=m.cancel_column), df, rows)
        is_return |= _flag(cancel.str.strip().str.startswith(m.cancel_prefix))
    if m.negative_quantity_is_return:
        is_return |= negative
    event_type = base_type.mask(pd.Series(is_return, index=df.index), "return")
    priced = _flag(event_type.isin(PRICED_TYPES))

    with np.errstate(invalid="ignore"):
        bad_qty_value = qty_present & (~np.isfinite(qty) | (qty != np.round(qty))
                                       | (np.abs(qty) > INT_MAX))
    bad_qty = bad_qty_value | (negative & ~is_return)
    if "quantity" in m.fields:
        bad_qty |= priced & ~qty_present
    zero_qty = qty_present & (qty == 0)

    price_text = _field(spec("price"), df, rows)
    price = _numbers(price_text, m.decimal)
    price_present = _flag(price_text.notna())
    bad_price = price_present & (~np.isfinite(price) | (np.nan_to_num(price) < 0))
    if "price" in m.fields:
        bad_price |= priced & ~price_present
    zero_price = price_present & (price == 0) if m.reject_zero_price else np.zeros(n, dtype=bool)

    rating_text = _field(spec("rating"), df, rows)
    rating = _numbers(rating_text, m.decimal)
    with np.errstate(invalid="ignore"):
        bad_rating = _flag(rating_text.notna()) & ~((rating >= 1) & (rating <= 5)
                                                     & (rating == np.round(rating)))

    # Exclusions compare the id as normalised but before its prefix, as the list is written.
    product_core = _normalise(spec("product_id"), _raw_text(spec("product_id"), df, rows), prefix=False)
    excluded = _flag(product_core.isin(m.exclude_ids))
    if m.exclude_pattern is not None:
        excluded |= _flag(product_core.str.fullmatch(m.exclude_pattern))

    rules = [
        (_flag(text["event_id"].isna()), "missing_event_id"),
        (_flag(text["product_id"].isna() & (event_type != "search")), "missing_product_id"),
        (excluded, "excluded_product"),
        (_flag(text["user_id"].isna()), "missing_user_id"),
        (ts_reason != "", None),  # the timestamp's own reason
        (~_flag(event_type.isin(list(EVENT_TYPES))), "bad_event_type"),
        (bad_qty, "bad_quantity"),
        (zero_qty, "zero_quantity"),
        (bad_price, "bad_price"),
        (zero_price, "zero_price"),
        (bad_rating, "bad_rating"),
    ]
    reasons = np.select([c for c, _ in rules], [r if r else ts_reason for _, r in rules], default="")
    reasons = reasons.astype(object)
    ok = reasons == ""

    ts_ok = ts[ok]
    # numpy formats datetimes many times faster than strftime; sub-second digits only if used
    instants = ts_ok.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    seconds = instants.astype("datetime64[s]")
    text_ts = np.datetime_as_string(seconds, unit="s")
    fractional = instants != seconds
    if fractional.any():
        text_ts = np.where(fractional, np.datetime_as_string(instants, unit="us"), text_ts)
    stamp = pd.Series(np.char.add(text_ts, "+00:00"), index=ts_ok.index, dtype="string")
    events = pd.DataFrame({
        "event_id": text["event_id"][ok],
        "ts": stamp,
        "user_id": text["user_id"][ok],
        "session_id": text["session_id"][ok],
        "event_type": event_type[ok],
        "product_id": text["product_id"][ok],
        "price": price[ok],
        "quantity": pd.Series(np.abs(qty[ok]), index=ts_ok.index).round().astype("Int64"),
        "query": text["query"][ok],
        "review_text": text["review_text"][ok],
        "rating": pd.Series(rating[ok], index=ts_ok.index).round().astype("Int64"),
        "device": text["device"][ok],
    }, columns=list(CONTRACT_FIELDS))

    product_frame = None
    if m.products is not None:
        pspec = m.products
        same_id = pspec["product_id"] is spec("product_id")
        product_frame = pd.DataFrame({
            name: (text["product_id"] if name == "product_id" and same_id
                   else _field(pspec[name], df, rows))[ok]
            for name in PRODUCT_COLUMNS if name != "price"
        })
        own_price = pspec["price"] is spec("price")
        product_price = price if own_price else _numbers(_field(pspec["price"], df, rows), m.decimal)
        product_frame["price"] = product_price[ok]
        product_frame["is_return"] = is_return[ok]
        product_frame["row"] = rows[ok]
    days = pd.Series(np.datetime_as_string(instants, unit="D"), index=ts_ok.index)
    return _MappedChunk(events=events, days=days, reasons=reasons, is_return=is_return[ok],
                        product_frame=product_frame)


# --------------------------------------------------------------------------- products


class _ProductStats:
    """Per product: counts of each distinct text value and of each non-return unit price, kept
    as small frames merged chunk by chunk, so memory grows with distinct values, not rows."""

    TEXT = ("title", "description", "category", "brand")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.counts: dict[str, pd.DataFrame] = {}

    def _merge(self, key: str, pairs: pd.DataFrame) -> None:
        if pairs.empty:
            return
        # 'first' is the row where a value was first seen: it breaks ties in favour of the earlier
        frames = [pairs.assign(n=1)] + ([self.counts[key]] if key in self.counts else [])
        self.counts[key] = (pd.concat(frames, ignore_index=True)
                            .groupby(["product_id", "value"], sort=False)
                            .agg(n=("n", "sum"), first=("first", "min")).reset_index())

    def add(self, frame: pd.DataFrame) -> None:
        frame = frame[frame["product_id"].notna()]
        self.ids.update(frame["product_id"].unique())
        for column in self.TEXT:
            pairs = frame[["product_id", column, "row"]].dropna()
            self._merge(column, pairs.set_axis(["product_id", "value", "first"], axis=1))
        sold = frame[~frame["is_return"].to_numpy(dtype=bool) & np.isfinite(frame["price"].to_numpy())]
        self._merge("price", sold[["product_id", "price", "row"]].set_axis(
            ["product_id", "value", "first"], axis=1))

    def table(self) -> pd.DataFrame:
        out = pd.DataFrame({"product_id": sorted(self.ids)})
        for column in self.TEXT:
            counts = self.counts.get(column)
            if counts is None:
                out[column] = ""
                continue
            best = (counts.sort_values(["n", "first"], ascending=[False, True])
                    .drop_duplicates("product_id").set_index("product_id")["value"])
            out[column] = out["product_id"].map(best).fillna("")
        out["price"] = out["product_id"].map(self._median_prices()) if "price" in self.counts else np.nan
        return out[list(PRODUCT_COLUMNS)]

    def _median_prices(self) -> pd.Series:
        counts = self.counts["price"].sort_values(["product_id", "value"])
        by_product = counts.groupby("product_id")["n"]
        cumulative, total = by_product.cumsum(), by_product.transform("sum")
        # the 0-based middle position(s): the value there is the first whose running count passes it
        low = counts[cumulative > (total - 1) // 2].groupby("product_id")["value"].first()
        high = counts[cumulative > total // 2].groupby("product_id")["value"].first()
        return ((low + high) / 2).round(6)


# --------------------------------------------------------------------------- writing


class _DayWriters:
    """One gzip stream per UTC day, at most max_open open at once. A stream closed to make room
    is reopened in append mode, which adds a gzip member: gzip readers read it as one file."""

    def __init__(self, events_dir: Path, stem: str, max_open: int = 64) -> None:
        self.events_dir = events_dir
        self.name = f".import-{stem}.jsonl.gz.partial"  # dot-named: ingest skips it while open
        self.max_open = max_open
        self.paths: dict[str, Path] = {}
        self.created: list[Path] = []  # dt= folders this import made, removed again on failure
        self.open: OrderedDict[str, tuple[BinaryIO, gzip.GzipFile]] = OrderedDict()

    def write(self, day: str, data: bytes) -> None:
        if day in self.open:
            self.open.move_to_end(day)
        else:
            if len(self.open) >= self.max_open:
                self._close(next(iter(self.open)))
            path = self.paths.get(day)
            mode = "ab" if path else "wb"
            if path is None:
                folder = self.events_dir / f"dt={day}"
                if not folder.exists():
                    self.created.append(folder)
                folder.mkdir(parents=True, exist_ok=True)
                path = self.paths[day] = folder / self.name
            raw = open(path, mode)  # noqa: SIM115 - closed in _close
            # mtime=0 and no file name in the header: re-imports are byte-identical
            self.open[day] = (raw, gzip.GzipFile(filename="", mode=mode, fileobj=raw, mtime=0,
                                                    compresslevel=6))
        self.open[day][1].write(data)

    def _close(self, day: str) -> None:
        raw, gz = self.open.pop(day)
        gz.close()
        raw.close()

    def close(self) -> None:
        for day in list(self.open):
            self._close(day)

    def discard(self) -> None:
        self.close()
        for path in self.paths.values():
            path.unlink(missing_ok=True)
        _remove_empty_dirs(self.created)


def _remove_empty_dirs(folders: list[Path]) -> None:
    """Remove the folders a failed import created, deepest first, where nothing else landed."""
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # not empty (another writer put something there) or already gone
            pass


def _replace_event_files(events_dir: Path, stem: str, writers: _DayWriters) -> list[Path]:
    """Swap this import's new day files in for the old ones (which may cover other days)."""
    final = f"import-{stem}.jsonl.gz"
    touched = set()
    for old in events_dir.glob(f"dt=*/{final}"):
        old.unlink()
        touched.add(old.parent)
    written = []
    for day in sorted(writers.paths):
        target = writers.paths[day].with_name(final)
        writers.paths[day].replace(target)
        written.append(target)
    for folder in touched:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a day this file no longer covers must not stay as an empty partition
    return written


# --------------------------------------------------------------------------- rejects


def _percent(n: int, total: int) -> str:
    share = n / total if total else 0.0
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"


def _remember_examples(examples: dict[str, dict], rejected: pd.DataFrame, reasons: np.ndarray) -> None:
    """Keep the first rejected row of each reason: its values make the hints concrete."""
    for position, reason in pd.Series(reasons).drop_duplicates().items():
        if reason not in examples:
            examples[reason] = rejected.iloc[position].to_dict()


def _origin(m: Mapping, name: str) -> str:
    """Where a field comes from, in the words of the mapping file."""
    spec = m.fields.get(name)
    if spec is None:
        return f"fields.{name} (not mapped)"
    if spec.column is not None:
        return f"column {spec.column!r} (fields.{name})"
    if spec.template is not None:
        return f"template {spec.template!r} (fields.{name})"
    return f"constant {spec.constant!r} (fields.{name})"


def _example(m: Mapping, name: str, row: dict) -> str:
    spec = m.fields.get(name)
    value = row.get(spec.column) if spec is not None and spec.column is not None else None
    if value is None or pd.isna(value) or str(value).strip() == "":
        return ""
    return f", e.g. {str(value)!r}"


def _reject_hint(reason: str, m: Mapping, row: dict) -> str | None:
    """What to change when many rows fail for ``reason``; None where the reason says it all.
    ``row`` is the first rejected row of that reason (original columns), for an example."""
    if reason == "timestamp_without_zone":
        return "timestamps have no zone: set `timezone` on `ts` in the mapping (e.g. Europe/London)"
    if reason == "bad_timestamp":
        ts_format = m.fields["ts"].ts_format
        expected = f"the format {ts_format!r}" if ts_format else "ISO-8601 (no `format` given)"
        return (f"{_origin(m, 'ts')} does not match {expected}{_example(m, 'ts', row)}: "
                "check `format` on `ts`")
    if reason in ("missing_user_id", "missing_event_id", "missing_product_id"):
        name = reason.removeprefix("missing_")
        return f"{_origin(m, name)} is empty: check that the mapping names the right column"
    if reason in ("bad_quantity", "bad_price", "bad_rating"):
        name = reason.removeprefix("bad_")
        return (f"{_origin(m, name)} holds values that are not a valid {name}{_example(m, name, row)}: "
                f"check the column and source.decimal ({m.decimal!r})")
    if reason == "bad_event_type":
        return (f"{_origin(m, 'event_type')} gives other types than {', '.join(sorted(EVENT_TYPES))}"
                f"{_example(m, 'event_type', row)}: translate them with `values` on event_type")
    if reason == "excluded_product":
        return "product ids in `exclude`: check that exclude.product_pattern matches only non-products"
    if reason == "zero_price":
        return "rows priced 0 are rejected by default: set exclude.zero_price: false to keep them"
    return None


def _reason_lines(by_reason: dict[str, int], rows_read: int, hints: dict[str, str]) -> list[str]:
    """One aligned line per reason: count, share of the rows read and, if any, the hint."""
    if not by_reason:
        return []
    width = max(len(r) for r in by_reason)
    count_width = max(len(f"{n:,}") for n in by_reason.values())
    lines = []
    for reason, n in by_reason.items():
        line = f"    {reason.ljust(width)}  {n:>{count_width},}  {_percent(n, rows_read):>6}"
        lines.append(f"{line}  {hints[reason]}" if reason in hints else line)
    return lines


def _check_reject_share(summary: dict, max_share: float) -> None:
    """Refuse an import that rejects more than ``max_share`` of its rows: a mapping that misfits
    the file (no time zone, wrong column) rejects most rows, and landing the few that pass would
    hide that behind a successful exit."""
    if summary["reject_share"] <= max_share:
        return
    top = dict(list(summary["rejected_by_reason"].items())[:TOP_REASONS])
    more = len(summary["rejected_by_reason"]) - len(top)
    rejected, read = summary["rows_rejected"], summary["rows_read"]
    headline = (f"{summary['source']}: {rejected:,} of {read:,} rows rejected "
                f"({_percent(rejected, read)}), more than the allowed {max_share * 100:g}%; "
                "nothing was written. Top reasons:")
    lines = [headline, *_reason_lines(top, read, summary["reject_hints"])]
    if more:
        lines.append(f"    ... and {more} more reason(s)")
    lines.append("  Fix the mapping, or allow more with --max-reject-share (0..1) if these rows "
                 "should be refused.")
    raise TooManyRejects("\n".join(lines), summary)


# --------------------------------------------------------------------------- import


def import_export(source: Path, mapping_path: Path, data_dir: Path, *, chunk_rows: int = 200_000,
                  max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Map an export onto the raw event contract and write it to the landing folders.

    Returns a summary: rows_read, rows_mapped, rows_rejected, rejected_by_reason {reason: n},
    reject_share, reject_hints {reason: hint}, days_written [YYYY-MM-DD], files (paths
    written), products_written, returns, notes, plus source, rejects_file and products_file.
    ``progress`` receives a line per chunk and any notes (e.g. CSV options ignored for Parquet);
    a ``terminal.Bar`` also moves on by the chunk's rows, towards ``estimated_rows``.
    Raises MappingError for a mapping that is invalid, names a column the file lacks or
    contradicts the file's format; ImportFailed when the file cannot be read; TooManyRejects
    (an ImportFailed) when more than ``max_reject_share`` of the rows are rejected. In every
    failure the landing folders keep what they held before.
    """
    source, data_dir = Path(source), Path(data_dir)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if not 0 <= max_reject_share <= 1:
        raise ValueError("max_reject_share must be between 0 and 1")
    if not source.is_file():
        raise FileNotFoundError(f"no such export file: {source}")
    mapping = load_mapping(mapping_path)
    kind = resolve_source(source, mapping)
    for note in kind.notes:
        report(progress, note)
    columns = _source_columns(source, kind, mapping)
    _check_columns(mapping, columns, source)
    if isinstance(progress, Bar):  # a bar shows the share done: worth a quick count
        progress.set_total(estimated_rows(source, kind))

    stem = source_stem(source)
    landing = data_dir / "landing"
    events_dir = landing / "events"
    rejects_path = landing / "rejects" / f"{stem}.rejects.csv"
    products_path = landing / "products" / f"import-{stem}.csv"
    rejects_tmp = rejects_path.with_name(f".{rejects_path.name}.partial")
    products_tmp = products_path.with_name(f".{products_path.name}.partial")
    reason_column = "reason" if "reason" not in columns else "import_reason"
    # Folders this import creates; a failed import removes them again, so it leaves no trace.
    new_dirs = [d for d in (data_dir, landing, events_dir, rejects_path.parent, products_path.parent)
                if not d.exists()]
    rejects_path.parent.mkdir(parents=True, exist_ok=True)

    writers = _DayWriters(events_dir, stem)
    products = _ProductStats() if mapping.products is not None else None
    reasons: Counter = Counter()
    examples: dict[str, dict] = {}
    rows_read = rows_mapped = returns = 0
    try:
        with open(rejects_tmp, "w", encoding="utf-8", newline="") as rejects:
            pd.DataFrame(columns=[*columns, reason_column]).to_csv(rejects, index=False)
            try:
                for chunk in _read_chunks(source, kind, mapping, chunk_rows):
                    mapped = _map_chunk(chunk, mapping, rows_read + 1)
                    rows_read += len(chunk)
                    rows_mapped += len(mapped.events)
                    returns += int(mapped.is_return.sum())
                    bad = mapped.reasons != ""
                    if bad.any():
                        rejected = chunk.reset_index(drop=True).loc[bad].copy()
                        _remember_examples(examples, rejected, mapped.reasons[bad])
                        rejected[reason_column] = mapped.reasons[bad]
                        rejected.to_csv(rejects, header=False, index=False)
                        reasons.update(mapped.reasons[bad].tolist())
                    for day, part in mapped.events.groupby(mapped.days, sort=True):
                        lines = part.to_json(orient="records", lines=True, force_ascii=False)
                        writers.write(str(day), (lines if lines.endswith("\n") else lines + "\n")
                                      .encode("utf-8"))
                    if products is not None and mapped.product_frame is not None:
                        products.add(mapped.product_frame)
                    report(progress, f"{source.name}: {rows_read:,} rows read, {rows_mapped:,} "
                                     f"mapped, {rows_read - rows_mapped:,} rejected",
                           advance=len(chunk), rows=len(chunk))
            except (pd.errors.ParserError, UnicodeDecodeError, OSError, pa.ArrowException) as exc:
                raise ImportFailed(f"cannot read {source} after row {rows_read:,}: {str(exc).strip()}; "
                                   "nothing was written") from exc
        writers.close()
        by_reason = dict(reasons.most_common())
        counts = {
            "source": str(source),
            "rows_read": rows_read,
            "rows_mapped": rows_mapped,
            "rows_rejected": rows_read - rows_mapped,
            "rejected_by_reason": by_reason,
            "reject_share": (rows_read - rows_mapped) / rows_read if rows_read else 0.0,
            "reject_hints": {r: h for r in by_reason
                             if (h := _reject_hint(r, mapping, examples.get(r, {}))) is not None},
        }
        _check_reject_share(counts, max_reject_share)
        product_table = products.table() if products is not None else pd.DataFrame()
        if products is not None:
            products_path.parent.mkdir(parents=True, exist_ok=True)
            product_table.to_csv(products_tmp, index=False)
    except BaseException:
        writers.discard()
        rejects_tmp.unlink(missing_ok=True)
        products_tmp.unlink(missing_ok=True)
        _remove_empty_dirs(new_dirs)
        raise

    # Everything is staged: swap it in. The old outputs of this file go, whatever days they had.
    event_files = _replace_event_files(events_dir, stem, writers)
    rejects_tmp.replace(rejects_path)
    if products is not None:
        products_tmp.replace(products_path)
    else:
        products_path.unlink(missing_ok=True)  # a mapping without products must not leave an old table
    return counts | {
        "days_written": sorted(writers.paths),
        "files": [str(p) for p in event_files] + [str(rejects_path)]
        + ([str(products_path)] if products is not None else []),
        "products_written": len(product_table),
        "returns": returns,
        "notes": kind.notes,
        "rejects_file": str(rejects_path),
        "products_file": str(products_path) if products is not None else None,
    }


# --------------------------------------------------------------------------- CLI


def format_summary(summary: dict) -> str:
    lines = [(f"Imported {summary['source']}: {summary['rows_read']:,} rows read, "
              f"{summary['rows_mapped']:,} mapped, {summary['rows_rejected']:,} rejected")]
    if summary["rejected_by_reason"]:
        lines.append(f"  rejected rows -> {summary['rejects_file']}")
        # No hints here: below the limit most rejects are intended (postage lines, guest orders).
        lines += _reason_lines(summary["rejected_by_reason"], summary["rows_read"], {})
    days = summary["days_written"]
    span = f" ({days[0]} .. {days[-1]})" if days else ""
    lines.append(f"  {len(days)} day file(s) written{span}; {summary['returns']:,} returns")
    if summary["products_file"]:
        lines.append(f"  {summary['products_written']:,} products -> {summary['products_file']}")
    return "\n".join(lines)


def _share(text: str) -> float:
    """argparse type for --max-reject-share: a fraction from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1 (0.5 = 50%), got {text!r}")
    return value


def _cmd_import(args: argparse.Namespace) -> None:
    try:
        with Bar("import", unit="rows") as bar:
            summary = import_export(Path(args.file), Path(args.mapping), Path(args.data_dir),
                                    chunk_rows=args.chunk_rows,
                                    max_reject_share=args.max_reject_share, progress=bar)
    except (MappingError, ImportFailed, FileNotFoundError) as exc:
        raise SystemExit(f"import failed: {exc}") from None
    print(format_summary(summary))


def register_cli(subparsers: Any) -> None:
    """Add ``import FILE --mapping MAPPING.yaml [--data-dir DIR] [--max-reject-share F]``."""
    parser = subparsers.add_parser(
        "import", help="map a CSV/Parquet export onto the event contract and write landing files",
        description="Map a CSV or Parquet export (e.g. Online Retail order lines) onto the raw "
                    "event contract with a YAML mapping; see docs/importing.md.")
    parser.add_argument("file", metavar="FILE", help="the export to import (CSV or Parquet)")
    parser.add_argument("--mapping", required=True, metavar="MAPPING.yaml", help="the YAML mapping")
    parser.add_argument("--data-dir", default=os.environ.get("PROFILING_DATA_DIR", "data"),
                        help="data root holding landing/ (default: $PROFILING_DATA_DIR or ./data)")
    parser.add_argument("--chunk-rows", type=int, default=200_000, help="rows per chunk (memory bound)")
    parser.add_argument("--max-reject-share", type=_share, default=DEFAULT_MAX_REJECT_SHARE,
                        metavar="F", help="fail, writing nothing, if more than this fraction of rows "
                                          "is rejected (0..1, default 0.5)")
    parser.set_defaults(func=_cmd_import)
