"""Raw ingest and cleaning on crafted files whose every bad line has a known fate."""

import gzip
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.ingest import NoLandingFilesError, ingest_day, load_snapshot

DAY = "2026-10-02"


def ev(event_id, ts="2026-10-02T10:00:00Z", user_id="U1", event_type="view", product_id="P1",
       price=10.0, **extra):
    d = {"event_id": event_id, "ts": ts, "user_id": user_id, "session_id": "S1",
         "event_type": event_type, "product_id": product_id, "price": price, "quantity": 1,
         "device": "mobile"}
    d.update(extra)
    return json.dumps({k: v for k, v in d.items() if v is not ...})


# (line, raw outcome, clean outcome) for every line of the crafted day.
CRAFTED = [
    (ev("e1"), "accepted", "clean"),
    (ev("e2", ts="2026-10-02T15:30:00+05:30", event_type="purchase", product_id="P2", price=20),
     "accepted", "clean"),
    (ev("e3", ts="2026-10-02T01:00:00-0700", event_type="cart"), "accepted", "clean"),
    (ev("e1"), "accepted", "exact_duplicate"),
    (ev("e2", ts="2026-10-02T11:00:00Z", event_type="view"), "accepted", "duplicate_event_id"),
    ('{"event_id": "e6", "ts": "2026-10-02T10:00:00Z", "user_', "malformed_json", None),
    ("[1, 2, 3]", "malformed_json", None),
    ("", "empty_line", None),
    ("not json at all ☃", "malformed_json", None),
    (ev("e7", user_id=...), "missing_user_id", None),
    (ev("e8", user_id=""), "missing_user_id", None),
    (ev("e9", event_type="click"), "unknown_event_type", None),
    (ev("e10", ts="2026-10-02T10:00:00"), "timestamp_without_zone", None),
    (ev("e11", ts="2026-13-45T10:00:00Z"), "bad_timestamp", None),
    (ev("e12", price="ten"), "bad_price", None),
    (ev("e13", quantity=1.5), "bad_quantity", None),
    (ev("e14", product_id=None), "missing_product_id", None),
    (ev(None), "missing_event_id", None),
    (ev("e15", price=-5), "accepted", "negative_price"),
    (ev("e16", price=10_000.0), "accepted", "clean"),  # outlier: replaced by catalogue price
    (ev("e17", ts="2099-01-01T00:00:00Z"), "accepted", "future_timestamp"),
    (ev("e18", ts="2026-10-01T23:59:59Z"), "accepted", "wrong_day"),
    (ev("e19", event_type="review", rating=7, review_text="great"), "accepted", "bad_rating"),
    (ev("e20", event_type="search", product_id=None, price=None, query="red shoes"),
     "accepted", "clean"),
    (ev("e21", user_id=12345, ts="2026-10-02 23:59:59.5+00:00"), "accepted", "clean"),
    (ev("e22", product_id="P404", price=99999999.0), "accepted", "clean"),  # clamped
]
BOT_EVENTS = 70  # one minute of views from one user: above the 60/minute bot threshold


def write_crafted_day(root: Path) -> Path:
    folder = root / "landing" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    lines = [line for line, _, _ in CRAFTED]
    lines += [ev(f"b{i}", ts=f"2026-10-02T12:00:{i % 60:02d}Z", user_id="BOT") for i in range(BOT_EVENTS)]
    with gzip.open(folder / "events.jsonl.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    (folder / "README.txt").write_text("not an event file")
    products = root / "landing" / "products"
    products.mkdir(parents=True)
    (products / "products.csv").write_text(
        "product_id,title,description,category,brand,price\n"
        "P1,Red shoe,A shoe,Fashion,Acme,10\nP2,Blue mug,A mug,home_kitchen,Mugs,20\n,orphan,,,,\n"
    )
    return folder


def expected_counts(column: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in CRAFTED:
        if row[column]:
            counts[row[column]] = counts.get(row[column], 0) + 1
    return counts


@pytest.fixture
def con(data_dir):
    c = duckdb.connect(str(data_dir / "w.duckdb"))
    yield c
    c.close()


def test_every_line_is_accepted_or_rejected_with_its_reason(data_dir, con):
    write_crafted_day(data_dir)
    report = ingest_day(con, DAY, data_dir)

    raw = expected_counts(1)
    assert report.lines_read == len(CRAFTED) + BOT_EVENTS
    assert report.accepted == raw.pop("accepted") + BOT_EVENTS
    assert dict(report.rejected_by_reason) == raw
    assert [p.name for p in report.ignored] == ["README.txt"]

    rejected = dict(con.execute(
        "SELECT line_no, raw_line FROM raw.events_rejected WHERE partition_date = ?", [DAY]).fetchall())
    assert rejected[7] == "[1, 2, 3]"  # verbatim, found by its line number
    assert rejected[8] == ""
    assert rejected[9] == "not json at all ☃"
    # mixed offsets are the same UTC instants; a numeric user id is kept as text
    rows = dict(con.execute(
        "SELECT event_id, strftime(ts, '%Y-%m-%d %H:%M:%S') FROM raw.events WHERE line_no IN (2, 3)"
    ).fetchall())
    assert rows == {"e2": "2026-10-02 10:00:00", "e3": "2026-10-02 08:00:00"}
    assert con.execute("SELECT user_id FROM raw.events WHERE event_id = 'e21'").fetchone()[0] == "12345"


def test_rerunning_a_day_replaces_exactly_that_day(data_dir, con):
    folder = write_crafted_day(data_dir)
    other = folder.parent / "dt=2026-10-03"
    other.mkdir()
    (other / "a.jsonl").write_text(ev("x1", ts="2026-10-03T01:00:00Z") + "\n")
    ingest_day(con, "2026-10-03", data_dir)
    ingest_day(con, DAY, data_dir)
    before = con.execute("SELECT * EXCLUDE (loaded_at) FROM raw.events ORDER BY ALL").fetchall()
    ingest_day(con, DAY, data_dir)
    after = con.execute("SELECT * EXCLUDE (loaded_at) FROM raw.events ORDER BY ALL").fetchall()
    assert before == after
    assert con.execute("SELECT count(*) FROM raw.events WHERE partition_date = '2026-10-03'").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM raw.ingest_files").fetchone()[0] == 2


def test_missing_day_names_the_folder(data_dir, con):
    with pytest.raises(NoLandingFilesError, match=r"dt=2026-10-09"):
        ingest_day(con, "2026-10-09", data_dir)


def test_cleaning_applies_each_rule_and_reconciles(data_dir, con):
    write_crafted_day(data_dir)
    ingest_day(con, DAY, data_dir)
    load_snapshot(con, "products", [data_dir / "landing" / "products" / "products.csv"])
    counts = clean_day(con, DAY, CleaningConfig())

    outcome = dict(counts["outcome"])
    expected = expected_counts(2)
    expected["bot"] = BOT_EVENTS
    assert outcome == expected
    assert dict(counts["price_flag"]) == {"replaced_by_catalog": 1, "clamped": 1}
    assert counts["not_in_catalog"]["events"] == 1

    clean = con.execute(
        "SELECT event_id, price, price_flag, category, in_catalog FROM clean.events ORDER BY event_id"
    ).fetchall()
    by_id = {r[0]: r[1:] for r in clean}
    assert by_id["e16"] == (10.0, "replaced_by_catalog", "fashion", True)
    assert by_id["e22"] == (100_000.0, "clamped", None, False)
    assert by_id["e2"][2] == "home_kitchen"  # the earliest e2 (10:00 UTC purchase) is the one kept
    raw_rows = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM clean.events_quarantine").fetchone()[0]
    assert raw_rows == len(clean) + quarantined
    assert con.execute("SELECT user_id, events FROM clean.bot_users").fetchall() == [("BOT", BOT_EVENTS)]
    # re-cleaning the day gives the same rows
    first = con.execute("SELECT * EXCLUDE (cleaned_at) FROM clean.events ORDER BY ALL").fetchall()
    clean_day(con, DAY, CleaningConfig())
    assert con.execute("SELECT * EXCLUDE (cleaned_at) FROM clean.events ORDER BY ALL").fetchall() == first


def test_csv_and_parquet_landing_files(data_dir, con):
    folder = data_dir / "landing" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        "event_id,ts,user_id,event_type,product_id,price\n"
        "c1,2026-10-02T10:00:00Z,U1,view,P1,3.5\n"
        "c2,2026-10-02T10:00:00Z,U2,view,P1,3.5,EXTRA\n"
        "c3,2026-10-02T10:00:00Z,,view,P1,3.5\n"
    )
    pd.DataFrame({
        "event_id": ["p1", "p2"], "ts": ["2026-10-02T10:00:00+00:00", "bad"],
        "user_id": ["U1", "U2"], "event_type": ["purchase", "view"], "product_id": ["P1", "P1"],
        "price": [9.5, 1.0], "quantity": [2, 1],
    }).to_parquet(folder / "b.parquet")
    report = ingest_day(con, DAY, data_dir)
    by_file = {Path(f.source_file).name: f for f in report.files}
    assert by_file["a.csv"].lines_read == 3
    assert by_file["a.csv"].accepted == 1
    assert dict(by_file["a.csv"].rejected) == {"malformed_csv": 1, "missing_user_id": 1}
    assert by_file["b.parquet"].accepted == 1
    assert dict(by_file["b.parquet"].rejected) == {"timestamp_without_zone": 1}
    assert con.execute("SELECT price, quantity FROM raw.events WHERE event_id = 'p1'").fetchone() == (9.5, 2)
    bad = con.execute("SELECT raw_line FROM raw.events_rejected WHERE reason = 'malformed_csv'").fetchone()[0]
    assert "EXTRA" in bad


def test_snapshots_keep_latest_row_and_reject_rows_without_id(data_dir, con):
    folder = data_dir / "landing" / "users"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        "user_id,signup_date,age,gender,city,email,phone\n"
        "U1,2026-01-01,34,F,Paris,a@example.com,555\nU2,not-a-date,300,M,,b@example.com,\n"
        ",2026-01-01,20,F,Rome,c@example.com,\n")
    (folder / "b.csv").write_text("user_id,signup_date,age\nU1,2026-02-02,35\n")
    result = load_snapshot(con, "users", sorted(folder.iterdir()))
    assert result["rows"] == 2
    assert result["rejected"] == {"missing_user_id": 1, "superseded_by_later_row": 1}
    rows = con.execute("SELECT user_id, signup_date::VARCHAR, age FROM raw.users ORDER BY 1").fetchall()
    assert rows == [("U1", "2026-02-02", 35), ("U2", None, None)]
    # a later load with no users file empties the table and its refusals alike
    assert load_snapshot(con, "users", []) == {"rows": 0, "rejected": {}}


def test_unreadable_files_are_quarantined_and_formats_mix(data_dir, con, monkeypatch):
    """A truncated gzip, a corrupt and an empty Parquet file and a file that vanishes are each
    recorded as failed with an error naming them; the day's JSONL, CSV and Parquet files load
    together; fixing a file and re-running the day picks it up."""
    import dagster as dg

    from profiling_assets.ingest import _readable_check, _reconciliation_check

    folder = data_dir / "landing" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(ev("j1") + "\n" + ev("j2") + "\n")
    (folder / "b.csv").write_text("event_id,ts,user_id,event_type,product_id\n"
                                  "c1,2026-10-02T10:00:00Z,U1,view,P1\n")
    pd.DataFrame({"event_id": ["p1"], "ts": ["2026-10-02T10:00:00Z"], "user_id": ["U1"],
                  "event_type": ["view"], "product_id": ["P1"]}).to_parquet(folder / "c.parquet")
    whole = gzip.compress(("\n".join(ev(f"t{i}", user_id=f"U{i}") for i in range(5000)) + "\n").encode())
    (folder / "d.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "e.parquet").write_bytes(b"PAR1 this is not parquet")
    (folder / "f.parquet").write_bytes(b"")

    report = ingest_day(con, DAY, data_dir)
    failed = {Path(f.source_file).name: f.error for f in report.files if f.failed}
    assert set(failed) == {"d.jsonl.gz", "e.parquet", "f.parquet"}
    assert all(error.startswith(name) for name, error in failed.items())  # each names its file
    assert report.accepted == 4  # every valid line of the other files, whatever the format
    rows = con.execute("SELECT source_file, status, lines_read, error IS NOT NULL FROM raw.ingest_files "
                       "ORDER BY 1").fetchall()
    assert [(Path(f).name, s, n, e) for f, s, n, e in rows] == [
        ("a.jsonl", "loaded", 2, False), ("b.csv", "loaded", 1, False), ("c.parquet", "loaded", 1, False),
        ("d.jsonl.gz", "failed", 0, True), ("e.parquet", "failed", 0, True), ("f.parquet", "failed", 0, True)]
    assert con.execute("SELECT count(*) FROM raw.events WHERE source_file LIKE '%d.jsonl.gz'").fetchone()[0] == 0
    # the counts reconcile, and the unreadable files are named in the checks (a warning)
    reconcile = _reconciliation_check(con, [DAY])
    assert reconcile.passed and "3 file(s) could not be read" in reconcile.description
    readable = _readable_check([report])
    assert not readable.passed and readable.severity == dg.AssetCheckSeverity.WARN

    # fixed files are picked up by a re-run; a file that vanishes after listing is recorded too
    (folder / "d.jsonl.gz").write_bytes(whole)
    (folder / "e.parquet").unlink()
    (folder / "f.parquet").unlink()
    import profiling_assets.ingest as ingest_module

    listed = ingest_module.landing_files

    def listing_with_a_ghost(path):
        files, ignored = listed(path)
        return [*files, (path / "gone.csv", "csv")], ignored

    monkeypatch.setattr(ingest_module, "landing_files", listing_with_a_ghost)
    report = ingest_day(con, DAY, data_dir)
    assert [Path(f.source_file).name for f in report.files if f.failed] == ["gone.csv"]
    assert report.accepted == 4 + 5000


def test_a_jsonl_day_then_a_csv_day_on_one_connection(data_dir, con):
    for day, name, body in (("2026-10-02", "a.jsonl", ev("j1") + "\n"),
                            ("2026-10-03", "b.csv", ("event_id,ts,user_id,event_type,product_id\n"
                                                     "c1,2026-10-03T10:00:00Z,U1,view,P1\n")),
                            ("2026-10-04", "c.jsonl", ev("j2", ts="2026-10-04T10:00:00Z") + "\n")):
        folder = data_dir / "landing" / "events" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / name).write_text(body)
        assert ingest_day(con, day, data_dir).accepted == 1


def test_junk_ids_and_non_scalar_values_are_refused(data_dir, con):
    folder = data_dir / "landing" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    lines = {
        ev("ok1", user_id="[not an array] but a string"): "accepted",
        ev("ok2", query="{curly} text", user_id="U1"): "accepted",
        ev("ok3", user_id="true story"): "accepted",
        ev("n1", user_id="a\u0000b"): "id_control_characters",
        ev("n2", product_id="P\n1"): "id_control_characters",
        ev("n3", user_id="x" * 100_000): "id_too_long",
        ev("n4", user_id=True): "non_scalar_value",
        ev("n5", user_id=[1, 2]): "non_scalar_value",
        ev("n6", user_id={"a": 1}): "non_scalar_value",
        ev("n7", query=["red", "shoes"], event_type="search", product_id=None): "non_scalar_value",
        ev("n8", price={"amount": 3}): "non_scalar_value",
    }
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n"
                                    # a repeated key: the first value counts (documented)
                                    + '{"event_id":"d1","ts":"2026-10-02T10:00:00Z","user_id":"first",'
                                      '"user_id":"second","event_type":"view","product_id":"P1"}\n')
    # a Parquet file whose user_id column holds lists: every row refused, the file named
    pd.DataFrame({"event_id": ["q1", "q2"], "ts": ["2026-10-02T10:00:00Z"] * 2,
                  "user_id": [[1, 2], [3]], "event_type": ["view"] * 2,
                  "product_id": ["P1"] * 2}).to_parquet(folder / "b.parquet")
    report = ingest_day(con, DAY, data_dir)
    expected = pd.Series(list(lines.values()) + ["accepted"] + ["non_scalar_value"] * 2).value_counts().to_dict()
    got = {"accepted": report.accepted, **report.rejected_by_reason}
    assert got == expected
    assert "user_id" in next(f.note for f in report.files if f.source_file.endswith("b.parquet"))
    assert con.execute("SELECT user_id FROM raw.events WHERE event_id = 'd1'").fetchone() == ("first",)
    assert con.execute("SELECT max(length(user_id)) FROM raw.events").fetchone()[0] < 100


def test_csv_broken_quote_and_bad_header_are_counted_line_by_line(data_dir, con):
    folder = data_dir / "landing" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    header = "event_id;ts;user_id;event_type;product_id;query"  # semicolons: found from the header
    opened = '"open quote'
    rows = [f"e{i};2026-10-02T10:00:00Z;U{i};search;P1;{opened if i == 50 else 'red shoes'}"
            for i in range(101)]
    (folder / "a.csv").write_text("\n".join([header, *rows]) + "\n")
    (folder / "b.csv").write_text("id,when,who,what\n1,2026-10-02T10:00:00Z,U1,view\n2,x,U2,view\n")
    (folder / "c.csv").write_text("event_id,ts,user_id,event_type,product_id\n"
                                  "c1,2026-10-02T10:00:00Z,U1,view,P1\n")
    report = ingest_day(con, DAY, data_dir)
    by_file = {Path(f.source_file).name: f for f in report.files}
    a = by_file["a.csv"]
    # the 50 records before the open quote load; the broken record and the 50 lines it
    # swallowed are refused one by one
    assert (a.accepted, dict(a.rejected)) == (50, {"malformed_csv": 1, "csv_unrecoverable": 50})
    assert a.lines_read == 101
    b = by_file["b.csv"]
    assert (b.accepted, dict(b.rejected)) == (0, {"bad_header": 2})
    assert "header lacks event_id, ts, user_id, event_type" in b.note
    assert by_file["c.csv"].accepted == 1  # other files are untouched
    broken = con.execute("SELECT raw_line FROM raw.events_rejected WHERE reason = 'malformed_csv'").fetchone()[0]
    assert broken.startswith("e50;") and "\n" not in broken
