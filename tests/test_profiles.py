"""The profile table: a crafted user's row, the latest-row table, and the analysts' copy
(readable by the 1.x DuckDB CLI, never half-written, never blocking)."""

import json
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from profiling_assets import profiles, sql
from profiling_assets.resources import prepare_connection

DEFAULTS = {"DATE": date(2026, 10, 1), "VARCHAR": "", "INTEGER": 0, "DOUBLE": 0.0,
            "BIGINT": 0, "TIMESTAMP": "2026-10-01 00:00:00",
            "TIMESTAMP WITH TIME ZONE": "2026-10-01 00:00:00+00"}


def insert(con: duckdb.DuckDBPyConnection, table: str, **values) -> None:
    """One row with the given columns; other NOT NULL columns get a neutral value."""
    row = {}
    for name, kind, nullable, *_ in con.execute(f"DESCRIBE {table}").fetchall():
        if name in values:
            row[name] = values[name]
        elif nullable == "NO":
            row[name] = DEFAULTS[kind]
    cols = ", ".join(row)
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


@pytest.fixture
def con(data_dir):
    con = duckdb.connect(str(data_dir / "p.duckdb"))
    prepare_connection(con)
    yield con
    con.close()


def craft_user(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, "raw.users", user_id="U1", signup_date=date(2026, 3, 2), age=37, gender="f",
           city="Lyon", email="ana@example.com", phone="+33 6 12 34 56 78", source_file="users.csv")
    for day, revenue_90d, refunds_90d in ((date(2026, 10, 1), 120.0, 20.0), (date(2026, 10, 2), 150.0, 20.0)):
        insert(con, "features.user_features", feature_date=day, user_id="U1",
               first_seen_date=date(2026, 9, 1), last_seen_date=day, last_purchase_date=day,
               orders_90d=3, revenue_90d=revenue_90d, refunds_90d=refunds_90d, aov_90d=50.0,
               rfm_recency=5, rfm_frequency=4, rfm_monetary=3, rfm_code="R5F4M3",
               price_ratio_90d=0.8, share_below_median_90d=0.75, top_category="books",
               preferred_hour_band="evening", preferred_weekday="Sunday")
    for day, revenue, refunds in ((date(2026, 9, 1), 100.0, 0.0), (date(2026, 10, 2), 30.0, 5.0)):
        insert(con, "features.user_daily_activity", activity_date=day, user_id="U1",
               revenue=revenue, refunds=refunds)
    insert(con, "ml.user_segments", segment_date=date(2026, 10, 2), user_id="U1",
           model_version="seg-1", segment_id=3, segment_name="Bargain hunters", confidence=0.8)
    con.execute("INSERT INTO ml.user_text_profile VALUES ('2026-10-02', 'U1', 'enc-1', 3, 1, 1, 1, "
                "[1]::FLOAT[] || list_transform(range(383), lambda x: 0::FLOAT), ['books', 'toys', 'grocery'], "
                "[0.9, 0.5, 0.4], '2026-10-02')")
    for rank, product in enumerate(("P3", "P1", "P2"), start=1):
        insert(con, "ml.recommendations", rec_date=date(2026, 10, 1), user_id="U1", rank=rank,
               product_id=product, score=1.0 / rank, source="svd", model_version="svd-1")
    con.execute("INSERT INTO ml.user_scores VALUES ('2026-10-02', 'U1', 0.82, 9, 0.07, 2, NULL, NULL, "
                "[{'target': 'purchase_14d', 'feature': 'orders_90d', 'value': 3.0, 'contribution': 0.21, "
                "'text': 'orders in 90 days: 3 (raises purchase propensity by 0.21)'}], "
                "'prop-p', 'prop-c', NULL, 'expected_spend_90d: no propensity_spend_90d has been trained', "
                "'2026-10-02 00:00:00')")


def test_crafted_user_profile(con):
    craft_user(con)
    profiles.build_user_profiles(con, "2026-10-01")
    profiles.build_user_profiles(con, "2026-10-02")
    cols = [d[0] for d in con.execute("SELECT * FROM profiles.user_profiles").description]
    assert not {"email", "phone", "age"} & set(cols)
    (row,) = con.execute("SELECT * FROM profiles.user_profiles").fetchall()
    got = dict(zip(cols, row, strict=True))
    assert got["profile_date"] == date(2026, 10, 2) and got["age_band"] == "35-44"
    assert (got["gender"], got["city"], got["signup_date"]) == ("f", "Lyon", date(2026, 3, 2))
    # net revenue of every day of history up to the profile day: 100 by day 1, + (30 - 5) by day 2
    assert got["lifetime_value"] == pytest.approx(125.0)
    assert got["lifetime_value_since"] == date(2026, 9, 1)
    assert got["rfm_code"] == "R5F4M3" and got["aov_90d"] == 50.0
    assert got["price_sensitivity"] == "high"
    assert (got["segment_id"], got["segment_name"], got["segment_confidence"]) == (3, "Bargain hunters", 0.8)
    assert got["interest_keywords"] == ["books", "toys", "grocery"]
    assert got["recommended_items"] == ["P3", "P1", "P2"]  # in rank order, from the latest day
    assert (got["text_encoder_version"], got["svd_model_version"], got["segment_model_version"]) == (
        "enc-1", "svd-1", "seg-1")
    # the day's predictive traits, their drivers and versions; a missing score says why
    assert (got["purchase_propensity_14d"], got["purchase_propensity_decile"]) == (0.82, 9)
    assert (got["churn_risk_30d"], got["churn_risk_decile"], got["expected_spend_90d"]) == (0.07, 2, None)
    assert got["score_drivers"][0]["text"] == "orders in 90 days: 3 (raises purchase propensity by 0.21)"
    assert (got["purchase_model_version"], got["churn_model_version"]) == ("prop-p", "prop-c")
    assert got["score_missing_reason"].startswith("expected_spend_90d: no propensity_spend_90d")
    history = con.execute("SELECT profile_date, lifetime_value FROM profiles.user_profiles_history "
                          "ORDER BY 1").fetchall()
    assert history == [(date(2026, 10, 1), 100.0), (date(2026, 10, 2), 125.0)]
    # the segment mix the user_profiles picture draws: users per day and segment in the window
    assert sql.query(con, "select_profile_segment_mix", day="2026-10-02", days=30) == [
        (date(2026, 10, 1), "(no segment)", 1), (date(2026, 10, 2), "Bargain hunters", 1)]
    assert sql.query(con, "select_profile_segment_mix", day="2026-10-02", days=1) == [
        (date(2026, 10, 2), "Bargain hunters", 1)]
    # rebuilding an older day leaves the newer latest row alone
    profiles.build_user_profiles(con, "2026-10-01")
    assert con.execute("SELECT profile_date FROM profiles.user_profiles").fetchall() == [(date(2026, 10, 2),)]


def test_published_copy_opens_in_the_duckdb_1x_cli(con, tmp_path):
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if cli is None:
        pytest.skip("the duckdb CLI (duckdb-cli, a dev dependency) is not installed")
    craft_user(con)
    profiles.build_user_profiles(con, "2026-10-01")
    path = profiles.publish(con, tmp_path / "profiles.duckdb")
    out = subprocess.run([cli, "-readonly", "-csv", str(path), "-c",
                          "SELECT version(), count(*), any_value(rfm_code) FROM user_profiles"],
                         capture_output=True, text=True, check=True).stdout
    version, count, code = out.strip().splitlines()[-1].split(",")
    assert version.startswith("v1.") and (count, code) == ("1", "R5F4M3")


READER = textwrap.dedent("""
    import json, sys, time, duckdb
    path, seconds = sys.argv[1], float(sys.argv[2])
    results, errors, end = [], [], time.time() + seconds
    while time.time() < end:
        try:
            with duckdb.connect(path, read_only=True) as con:
                results.append(con.execute(
                    "SELECT count(*), (SELECT user_profiles_rows FROM published), "
                    "count(DISTINCT user_id) FROM user_profiles").fetchone())
        except Exception as exc:  # any error is a failure of the publishing scheme
            errors.append(repr(exc))
    print(json.dumps({"results": results, "errors": errors}))
""")


def test_readers_see_only_complete_copies_while_publishing(con, tmp_path):
    target = tmp_path / "profiles.duckdb"
    insert(con, "features.user_features", feature_date=date(2026, 10, 1), user_id="U0",
           first_seen_date=date(2026, 10, 1), last_seen_date=date(2026, 10, 1), rfm_code="R1F1M1")
    profiles.build_user_profiles(con, "2026-10-01")
    profiles.publish(con, target)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target), "6"],
                              stdout=subprocess.PIPE, text=True)
    sizes, end = set(), time.time() + 5
    n = 1
    while time.time() < end:
        # each publish holds a different number of users (1, 2001, 4001, ...): copies of U0
        con.execute("INSERT INTO features.user_features SELECT f.* REPLACE ('U' || (? + i) AS user_id) "
                    "FROM features.user_features f, range(2000) t(i) WHERE f.user_id = 'U0'", [n])
        n += 2000
        profiles.build_user_profiles(con, "2026-10-01")
        profiles.publish(con, target)
        sizes.add(n)
    out = json.loads(reader.communicate(timeout=60)[0])
    assert out["errors"] == []
    assert len(out["results"]) > 10 and len(sizes) >= 3
    for count, published_rows, distinct in out["results"]:
        assert count == published_rows == distinct  # a copy is always whole
    assert len({r[0] for r in out["results"]}) >= 2  # the reader saw successive copies
    assert not list(tmp_path.glob(".*.tmp*"))


def published_tables(path: Path) -> dict[str, list[tuple]]:
    """Every table of a published copy, sorted, without the publish time."""
    with duckdb.connect(str(path), read_only=True) as pub:
        return {t: sorted(pub.execute(f"SELECT * EXCLUDE (published_at) FROM {t}" if t == "published"
                                      else f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("user_profiles", "user_profiles_history", "segments", "recommendations",
                          "published")}


def test_a_publish_updates_the_previous_copy_and_shows_what_a_full_rewrite_shows(con, tmp_path):
    """The next publish starts from the previous copy and rewrites only the history days that
    changed: a new day, a rebuilt day and a day a user was removed from are written, a day
    that left the 90-day window goes, and the other days stay as the copy had them. The
    result equals a copy written whole; a copy from an older release is written whole."""
    def build(day: date, users: range) -> None:
        for n in users:
            insert(con, "features.user_features", feature_date=day, user_id=f"U{n}",
                   first_seen_date=day, last_seen_date=day, rfm_code="R1F1M1")
        profiles.build_user_profiles(con, day.isoformat())

    target, whole = tmp_path / "profiles.duckdb", tmp_path / "whole.duckdb"
    days = [date(2026, 7, 1), date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)]
    for day in days:
        build(day, range(3))
    profiles.publish(con, target)
    with duckdb.connect(str(target)) as pub:  # marks the copy's rows of a day it should keep
        pub.execute("UPDATE user_profiles_history SET city = 'kept' WHERE profile_date = '2026-09-28'")
    con.execute("UPDATE features.user_features SET orders_90d = 7 WHERE feature_date = '2026-09-29'")
    build(days[2], range(0))  # rebuilt with the new figures
    con.execute("DELETE FROM profiles.user_profiles_history WHERE profile_date = '2026-09-30' AND user_id = 'U2'")
    build(date(2026, 10, 1), range(4))  # a new day: 2026-07-01 leaves the window
    profiles.publish(con, target)
    profiles.publish(con, whole, rewrite=True)

    with duckdb.connect(str(target), read_only=True) as pub:
        per_day = dict(pub.execute("SELECT profile_date, count(*) FROM user_profiles_history GROUP BY 1").fetchall())
        assert per_day == {date(2026, 9, 28): 3, date(2026, 9, 29): 3, date(2026, 9, 30): 2, date(2026, 10, 1): 4}
        assert pub.execute("SELECT DISTINCT orders_90d FROM user_profiles_history"
                           " WHERE profile_date = '2026-09-29'").fetchall() == [(7,)]
        assert pub.execute("SELECT count(*) FROM user_profiles_history WHERE city = 'kept'").fetchone()[0] == 3
    with duckdb.connect(str(target)) as pub:
        pub.execute("UPDATE user_profiles_history SET city = NULL WHERE city = 'kept'")
    assert published_tables(target) == published_tables(whole)

    # an older release's copy (no storage version recorded) is written whole
    with duckdb.connect(str(target)) as pub:
        pub.execute("UPDATE user_profiles_history SET city = 'kept'")
        pub.execute("ALTER TABLE published DROP COLUMN storage_version")
    profiles.publish(con, target)
    with duckdb.connect(str(target), read_only=True) as pub:
        assert pub.execute("SELECT count(*) FROM user_profiles_history WHERE city = 'kept'").fetchone()[0] == 0
    assert published_tables(target) == published_tables(whole)
    assert not list(tmp_path.glob(".*.tmp*"))


PUBLISHER = textwrap.dedent("""
    import json, sys, time, duckdb
    from pathlib import Path
    from profiling_assets import profiles
    warehouse, target, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    con, done, errors, end = duckdb.connect(warehouse), 0, [], time.time() + seconds
    while time.time() < end:
        try:
            profiles.publish(con, target)
            done += 1
        except Exception as exc:
            errors.append(repr(exc))
    print(json.dumps({"done": done, "errors": errors}))
""")


def test_runs_publishing_at_once_take_turns(data_dir, tmp_path):
    """In lake mode runs of different days publish at the same time: each publish waits for
    the one in flight, none removes another's temporary copy, and the copy is always whole."""
    target, warehouses = tmp_path / "profiles.duckdb", []
    for n, users in enumerate((300, 500)):
        path = data_dir / f"w{n}.duckdb"
        with duckdb.connect(str(path)) as con:
            prepare_connection(con)
            insert(con, "features.user_features", feature_date=date(2026, 10, 1), user_id="U0",
                   first_seen_date=date(2026, 10, 1), last_seen_date=date(2026, 10, 1))
            con.execute("INSERT INTO features.user_features SELECT f.* REPLACE ('U' || i AS user_id) "
                        "FROM features.user_features f, range(1, ?) t(i)", [users])
            profiles.build_user_profiles(con, "2026-10-01")
        warehouses.append(path)
    runs = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(w), str(target), "4"],
                             stdout=subprocess.PIPE, text=True) for w in warehouses]
    outs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert [out["errors"] for out in outs] == [[], []]
    assert all(out["done"] >= 3 for out in outs)
    with duckdb.connect(str(target), read_only=True) as pub:
        count, recorded = pub.execute("SELECT count(*), (SELECT user_profiles_rows FROM published) "
                                      "FROM user_profiles").fetchone()
    assert count == recorded and count in (300, 500)
    assert not list(tmp_path.glob(".*.tmp*"))
