"""``profiling-assets import``: the example Online Retail sample, whose every row has a known fate."""

import argparse
import gzip
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from profiling_assets.importer import MappingError, TooManyRejects, import_export, register_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE = EXAMPLES / "online_retail_sample.csv"
MAPPING = EXAMPLES / "online_retail.yaml"
STEM = "online_retail_sample"

# What the sample was written to contain (see the rows in examples/online_retail_sample.csv).
REJECTED = {
    "excluded_product": 4,  # POST, M, BANK CHARGES, DOT (DOT also lacks a customer)
    "missing_user_id": 2,
    "bad_timestamp": 1,  # 13/45/2010
    "bad_quantity": 1,  # "two"
    "bad_price": 1,  # "abc"
    "zero_quantity": 1,
    "zero_price": 1,
    "missing_product_id": 1,
}
DAYS = {"2010-12-01": 7, "2010-12-02": 6, "2011-06-14": 2, "2011-06-15": 5}


def read_day(data_dir: Path, day: str, stem: str = STEM) -> list[dict]:
    path = data_dir / "landing" / "events" / f"dt={day}" / f"import-{stem}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def all_events(data_dir: Path, stem: str = STEM) -> dict[str, dict]:
    events = {}
    for path in sorted((data_dir / "landing" / "events").glob(f"dt=*/import-{stem}.jsonl.gz")):
        for event in read_day(data_dir, path.parent.name.removeprefix("dt="), stem):
            events[event["event_id"]] = event | {"dt": path.parent.name.removeprefix("dt=")}
    return events


@pytest.fixture
def imported(data_dir: Path) -> dict:
    return import_export(SAMPLE, MAPPING, data_dir, chunk_rows=7)  # several chunks on purpose


def test_counts_add_up(imported: dict) -> None:
    assert imported["rows_read"] == 32
    assert imported["rows_rejected"] == sum(REJECTED.values()) == 12
    assert imported["rows_mapped"] == 20
    assert imported["rows_read"] == imported["rows_mapped"] + imported["rows_rejected"]
    assert imported["rejected_by_reason"] == REJECTED
    assert imported["returns"] == 3
    assert imported["days_written"] == sorted(DAYS)
    assert imported["products_written"] == 11


def test_rejects_file_keeps_original_columns_and_text(data_dir: Path, imported: dict) -> None:
    path = data_dir / "landing" / "rejects" / f"{STEM}.rejects.csv"
    assert imported["rejects_file"] == str(path)
    rejects = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(rejects.columns) == ["InvoiceNo", "StockCode", "Description", "Quantity",
                                     "InvoiceDate", "UnitPrice", "CustomerID", "Country", "reason"]
    assert rejects["reason"].value_counts().to_dict() == REJECTED
    by_reason = {r: g for r, g in rejects.groupby("reason")}
    assert set(by_reason["excluded_product"]["StockCode"]) == {"POST", "M", "BANK CHARGES", "DOT"}
    assert by_reason["bad_timestamp"]["InvoiceDate"].tolist() == ["13/45/2010 10:00"]
    assert by_reason["bad_quantity"]["Quantity"].tolist() == ["two"]
    assert by_reason["bad_price"]["UnitPrice"].tolist() == ["abc"]
    assert by_reason["zero_price"]["UnitPrice"].tolist() == ["0.00"]  # verbatim, not re-typed
    assert by_reason["missing_user_id"]["CustomerID"].tolist() == ["", ""]


def test_events_follow_the_contract(data_dir: Path, imported: dict) -> None:
    events = all_events(data_dir)
    assert len(events) == 20
    for day, n in DAYS.items():
        assert len(read_day(data_dir, day)) == n
    first = events["OR-600001-30010-1"]
    assert first == {
        "event_id": "OR-600001-30010-1", "ts": "2010-12-01T09:05:00+00:00", "user_id": "14001",
        "session_id": "600001", "event_type": "purchase", "product_id": "30010", "price": 2.1,
        "quantity": 6, "query": None, "review_text": None, "rating": None, "device": None,
        "dt": "2010-12-01",
    }
    assert all(e["ts"].startswith(e["dt"]) for e in events.values())  # folder = UTC day


def test_returns_have_positive_quantity(data_dir: Path, imported: dict) -> None:
    returns = {k: e for k, e in all_events(data_dir).items() if e["event_type"] == "return"}
    # a cancelled invoice (C...), a bare negative quantity, a cancellation in summer
    assert {k: (e["quantity"], e["price"]) for k, e in returns.items()} == {
        "OR-C600004-30010-10": (2, 2.1),
        "OR-600006-30015-16": (1, 1.65),
        "OR-C600102-30019-28": (1, 9.95),
    }


def test_london_times_become_utc_days(data_dir: Path, imported: dict) -> None:
    events = all_events(data_dir)
    # 00:30 BST on 15 June is 23:30 UTC on 14 June; 01:30 BST is 00:30 UTC on the 15th
    summer_midnight = events["OR-600100-30010-24"]
    assert (summer_midnight["ts"], summer_midnight["dt"]) == ("2011-06-14T23:30:00+00:00", "2011-06-14")
    assert events["OR-600101-30016-26"]["ts"] == "2011-06-15T00:30:00+00:00"
    assert events["OR-C600102-30019-28"]["ts"] == "2011-06-15T08:00:00+00:00"  # 09:00 BST
    assert events["OR-600001-30010-1"]["ts"] == "2010-12-01T09:05:00+00:00"  # GMT = UTC


def test_ids_are_normalised(data_dir: Path, imported: dict) -> None:
    events = all_events(data_dir)
    assert events["OR-600002-30010-5"]["user_id"] == "14002"  # was 14002.0
    assert events["OR-600006-30015-16"]["user_id"] == "14002"  # same customer, written 14002
    assert events["OR-600103-30020-30"]["user_id"] == "14005"  # was " 14005 "
    assert events["OR-600103-30020-30"]["quantity"] == 4  # was " 4 "
    assert events["OR-600008-30012a-22"]["product_id"] == "30012A"  # case: upper
    assert {e["user_id"] for e in events.values()} == {"14001", "14002", "14003", "14004", "14005"}


def test_reimport_is_deterministic_and_replaces(data_dir: Path, imported: dict) -> None:
    events_dir = data_dir / "landing" / "events"
    before = {p: p.read_bytes() for p in sorted(events_dir.rglob("*")) if p.is_file()}
    # a stale part of an earlier import of this file on a day it no longer covers
    stale = events_dir / "dt=2009-01-01" / f"import-{STEM}.jsonl.gz"
    stale.parent.mkdir()
    stale.write_bytes(b"")
    other = events_dir / "dt=2010-12-01" / "events.jsonl"  # someone else's file stays
    other.write_text("{}\n")
    again = import_export(SAMPLE, MAPPING, data_dir, chunk_rows=1000)
    after = {p: p.read_bytes() for p in sorted(events_dir.rglob("*")) if p.is_file()}
    assert after.pop(other) == b"{}\n"
    assert after == before  # same files, same bytes: ids and order do not depend on chunking
    assert not stale.parent.exists()
    assert again["rows_mapped"] == imported["rows_mapped"]
    assert again["files"] == imported["files"]


def test_product_table(data_dir: Path, imported: dict) -> None:
    path = data_dir / "landing" / "products" / f"import-{STEM}.csv"
    products = pd.read_csv(path, dtype=str, keep_default_na=False).set_index("product_id")
    assert list(products.columns) == ["title", "description", "category", "brand", "price"]
    assert len(products) == 11
    assert not {"POST", "M", "30017", "30018"} & set(products.index)  # rejected rows add nothing
    assert products.loc["30013", "title"] == "WOODEN STAR DECORATION"  # most frequent of two texts
    assert products.loc["30013", "price"] == "0.42"  # median of 0.42, 0.36, 0.42
    assert products.loc["30016", "price"] == "6.375"  # median of 6.25 and 6.50
    assert products.loc["30010", "price"] == "2.1"  # the return line does not count
    assert products.loc["30015", "price"] == ""  # only ever returned: no price
    assert products.loc["30014", "description"] == "HERB POT SET"  # stripped
    assert products.loc["30021", "title"] == "CAFÉ AU LAIT BOWL"  # read as latin-1
    assert products.loc["30022", "title"] == "JAR, SET OF 3"
    assert (products["category"] == "").all() and (products["brand"] == "").all()


def test_imported_day_passes_raw_ingest(data_dir: Path, imported: dict) -> None:
    from profiling_assets.ingest import ingest_day

    with duckdb.connect(str(data_dir / "w.duckdb")) as con:
        report = ingest_day(con, "2011-06-14", data_dir)
        assert (report.lines_read, report.accepted) == (2, 2)
        dates = con.execute("SELECT DISTINCT event_date::VARCHAR FROM raw.events").fetchall()
        assert dates == [("2011-06-14",)]


def test_parquet_export_in_online_retail_ii_layout(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "retail_ii.parquet"
    pd.DataFrame({
        "Invoice": ["700001", "700001", "C700002", "700003"],
        "StockCode": ["40001", "40002", "40001", "40003"],
        "Description": ["TIN BOX", "ROPE BASKET", "TIN BOX", "SOAP DISH"],
        "Quantity": [3, 1, -1, 2],
        "InvoiceDate": pd.to_datetime(["2010-03-28 00:30", "2010-03-28 01:30",
                                       "2010-07-01 10:00", "2010-07-01 11:00"]),
        "Price": [1.25, 4.5, 1.25, 2.0],
        "Customer ID": [12345.0, 12345.0, 12346.0, np.nan],
        "Country": ["United Kingdom"] * 4,
    }).to_parquet(source)
    mapping = tmp_path / "retail_ii.yaml"
    mapping.write_text(yaml.safe_dump({
        "fields": {
            "event_id": {"template": "R2-{Invoice}-{StockCode}-{row}"},
            "ts": {"column": "InvoiceDate", "timezone": "Europe/London"},
            "user_id": {"column": "Customer ID", "normalize_id": True, "prefix": "R2-"},
            "session_id": "Invoice",
            "event_type": {"constant": "purchase"},
            "product_id": "StockCode", "price": "Price", "quantity": "Quantity",
        },
        "returns": {"cancel_column": "Invoice", "cancel_prefix": "C"},
        "products": {"title": "Description"},
    }))
    summary = import_export(source, mapping, data_dir)
    assert (summary["rows_read"], summary["rows_mapped"], summary["rows_rejected"]) == (4, 3, 1)
    assert summary["rejected_by_reason"] == {"missing_user_id": 1}
    events = all_events(data_dir, "retail_ii")
    assert events["R2-700001-40001-1"]["user_id"] == "R2-12345"
    assert events["R2-700001-40001-1"]["ts"] == "2010-03-28T00:30:00+00:00"  # still GMT
    # 01:30 on the spring-forward night does not exist in London: moved on to 02:00 BST
    assert events["R2-700001-40002-2"]["ts"] == "2010-03-28T01:00:00+00:00"
    assert events["R2-C700002-40001-3"]["event_type"] == "return"
    assert events["R2-C700002-40001-3"]["quantity"] == 1
    assert summary["products_written"] == 2
    rejects = pd.read_csv(summary["rejects_file"])
    assert rejects["StockCode"].tolist() == [40003] and rejects["reason"].tolist() == ["missing_user_id"]


def write_mapping(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load(MAPPING.read_text())
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_missing_column_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, lambda m: m["fields"].update(user_id={"column": "Customer ID"}))
    with pytest.raises(MappingError, match=r"fields\.user_id refers to column 'Customer ID'.*"
                                           r"not in online_retail_sample\.csv.*CustomerID"):
        import_export(SAMPLE, mapping, data_dir)
    assert not (data_dir / "landing").exists()  # nothing written


def test_template_column_is_checked_too(data_dir: Path, tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, lambda m: m["fields"].update(event_id={"template": "{Invoice}-{row}"}))
    with pytest.raises(MappingError, match=r"fields\.event_id refers to column 'Invoice'"):
        import_export(SAMPLE, mapping, data_dir)


def test_unknown_key_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, lambda m: m["returns"].update(cancel_prefx="C"))
    with pytest.raises(MappingError, match=r"returns\.cancel_prefx: unknown key \(did you mean "
                                           r"'cancel_prefix'\?\)"):
        import_export(SAMPLE, mapping, data_dir)
    mapping = write_mapping(tmp_path, lambda m: m["fields"].update(customer="CustomerID"))
    with pytest.raises(MappingError, match=r"fields\.customer: unknown key"):
        import_export(SAMPLE, mapping, data_dir)


def test_cli_prints_summary(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", str(SAMPLE), "--mapping", str(MAPPING), "--data-dir", str(data_dir)])
    args.func(args)
    out = capsys.readouterr().out
    assert "32 rows read, 20 mapped, 12 rejected" in out
    assert "excluded_product" in out and "11 products" in out
    args = parser.parse_args(["import", str(SAMPLE), "--mapping", str(data_dir / "nope.yaml")])
    with pytest.raises(SystemExit, match="import failed: cannot read mapping"):
        args.func(args)


def run_cli(*argv: str) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", *argv])
    args.func(args)


def landing_files(data_dir: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((data_dir / "landing").rglob("*")) if p.is_file()}


def sample_as_parquet(path: Path) -> Path:
    """The sample as a typed Parquet export would hold it: text that is not a number or a date
    (two, abc, 13/45/2010) is null there, and a missing CustomerID is a null double."""
    text = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, encoding="latin-1")
    frame = pd.DataFrame({
        "InvoiceNo": text["InvoiceNo"],
        "StockCode": text["StockCode"].replace("", None),
        "Description": text["Description"],
        "Quantity": pd.to_numeric(text["Quantity"], errors="coerce").astype("Int64"),
        "InvoiceDate": pd.to_datetime(text["InvoiceDate"], format="%m/%d/%Y %H:%M", errors="coerce"),
        "UnitPrice": pd.to_numeric(text["UnitPrice"], errors="coerce"),
        "CustomerID": pd.to_numeric(text["CustomerID"], errors="coerce"),  # 14001.0 or NaN
        "Country": text["Country"],
    })
    # without pandas' own metadata, like an export written by another tool
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path)
    return path


def test_example_mapping_reads_the_parquet_form_like_the_csv(tmp_path: Path, imported: dict) -> None:
    source = sample_as_parquet(tmp_path / "online_retail_sample.parquet")
    assert pq.read_schema(source).field("InvoiceDate").type == pa.timestamp("us")  # naive, typed
    parquet_dir, notes = tmp_path / "parquet", []
    # chunks of 7 put the null Quantity in one chunk only: ids and numbers must not change with it
    summary = import_export(source, MAPPING, parquet_dir, chunk_rows=7, progress=notes.append)
    csv_dir = Path(imported["rejects_file"]).parents[2]
    assert all_events(parquet_dir) == all_events(csv_dir)
    assert summary["rejected_by_reason"] == imported["rejected_by_reason"] == REJECTED
    assert (summary["returns"], summary["days_written"]) == (imported["returns"], imported["days_written"])
    product_file = Path("landing/products/import-online_retail_sample.csv")
    assert (parquet_dir / product_file).read_bytes() == (csv_dir / product_file).read_bytes()
    assert summary["notes"] == [n for n in notes if n.startswith("note:")]
    assert "read as Parquet" in summary["notes"][0]
    assert "source.delimiter, source.encoding" in summary["notes"][0]  # CSV-only, so ignored


def test_parquet_content_wins_over_a_csv_mapping(data_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    source = sample_as_parquet(tmp_path / "retail.csv")  # Parquet bytes behind a .csv name
    mapping = write_mapping(tmp_path, lambda m: m["source"].update(format="csv"))
    run_cli(str(source), "--mapping", str(mapping), "--data-dir", str(data_dir))
    out = capsys.readouterr().out
    assert "retail.csv is a Parquet file (by its content) although named .csv" in out
    assert "ignored source.format: csv and the CSV-only source.delimiter, source.encoding" in out
    assert "32 rows read, 20 mapped, 12 rejected" in out


@pytest.mark.parametrize(("name", "fmt", "message"), [
    ("retail.parquet", "csv", (r"the mapping says csv, but \S*retail\.parquet is named \.parquet, "
                               r"and its content looks like CSV/text, not Parquet")),
    ("retail.csv", "parquet", r"the mapping says parquet, but \S*retail\.csv looks like CSV/text, not Parquet"),
    ("retail.parquet", None, r"retail\.parquet is named \.parquet, but its content looks like CSV/text"),
])
def test_format_contradiction_is_a_clear_error(data_dir: Path, tmp_path: Path, name: str,
                                               fmt: str | None, message: str) -> None:
    source = tmp_path / name
    source.write_bytes(SAMPLE.read_bytes())  # CSV content
    mapping = write_mapping(tmp_path, lambda m: m["source"].update(format=fmt) if fmt else None)
    with pytest.raises(SystemExit, match="import failed: .*" + message) as exit_:
        run_cli(str(source), "--mapping", str(mapping), "--data-dir", str(data_dir))
    assert exit_.value.code not in (0, None)
    assert not (data_dir / "landing").exists()


def test_mostly_rejected_import_fails_with_reasons_and_hints(data_dir: Path, tmp_path: Path) -> None:
    # The user's case: ts without a zone, so every dated row is timestamp_without_zone.
    mapping = write_mapping(tmp_path, lambda m: m["fields"]["ts"].pop("timezone"))
    with pytest.raises(SystemExit) as exit_:
        run_cli(str(SAMPLE), "--mapping", str(mapping), "--data-dir", str(data_dir))
    message = str(exit_.value.code)
    assert message.startswith("import failed:")
    assert "32 of 32 rows rejected (100.0%), more than the allowed 50%; nothing was written" in message
    assert "timestamp_without_zone  24   75.0%  timestamps have no zone: set `timezone` on `ts`" in message
    assert "--max-reject-share" in message
    assert not (data_dir / "landing").exists()  # no events, rejects or product table, no folders


def test_rejected_import_leaves_earlier_output_alone(data_dir: Path, tmp_path: Path, imported: dict) -> None:
    before = landing_files(data_dir)
    assert len(before) == 6  # 4 days, rejects, products
    # a wrong `format`: every date the sample has is refused (the rest go for other reasons)
    mapping = write_mapping(tmp_path, lambda m: m["fields"]["ts"].update(format="%d.%m.%Y"))
    with pytest.raises(TooManyRejects, match=r"bad_timestamp +25 +78\.1%  column 'InvoiceDate' "
                                             r"\(fields\.ts\) does not match the format '%d\.%m\.%Y', "
                                             r"e\.g\. '12/1/2010 9:05': check `format` on `ts`"):
        import_export(SAMPLE, mapping, data_dir)
    assert landing_files(data_dir) == before
    assert not list((data_dir / "landing").rglob(".*partial"))


def test_max_reject_share_option(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    args = (str(SAMPLE), "--mapping", str(MAPPING), "--data-dir", str(data_dir))
    with pytest.raises(SystemExit, match=r"12 of 32 rows rejected \(37\.5%\), more than the allowed 30%"
                                         r"(.|\n)*missing_user_id .* column 'CustomerID' \(fields\.user_id\)"
                                         r" is empty"):
        run_cli(*args, "--max-reject-share", "0.3")
    assert not (data_dir / "landing").exists()
    run_cli(*args)  # 37.5% is under the default 50%: imported, with the reject summary
    out = capsys.readouterr().out
    assert "12 rejected" in out and "excluded_product    4   12.5%" in out
    with pytest.raises(SystemExit) as exit_:  # argparse refuses a share outside 0..1
        run_cli(*args, "--max-reject-share", "1.5")
    assert exit_.value.code == 2
    assert "expected a fraction from 0 to 1" in capsys.readouterr().err
