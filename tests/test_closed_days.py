"""Closed days and the order days are built in: an empty partition for a day without files,
cumulative profile values equal to a from-scratch computation, the same profile tables
whatever the build order, and an analysts' copy that never goes back to an older day."""

import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest
from images import assert_pictures
from tables import assert_same_rows

from profiling_assets import cleaning, features, ingest, profiles, synthetic
from profiling_assets.resources import pipeline_resources

START = date(2026, 10, 1)
DAYS = [(START + timedelta(days=i)).isoformat() for i in range(5)]
CLOSED = DAYS[2]
ASSETS = [ingest.raw_users, ingest.raw_products, ingest.raw_events, cleaning.cleaned_events,
          features.user_daily_activity, features.user_features, profiles.user_profiles]
DAILY = ["raw_events", "cleaned_events", "user_daily_activity", "user_features", "user_profiles"]

# Lifetime value and first-seen day of each user from the clean events alone: every day of
# history up to the profile day, whatever was built before.
FROM_SCRATCH = """
SELECT user_id, min(event_date) AS first_seen,
       coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
     - coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'return'), 0) AS ltv
FROM clean.events WHERE event_date <= ? GROUP BY user_id
"""


def materialize(instance, selection, first, last=None):
    tags = ({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            if last else {})
    result = dg.materialize(ASSETS, selection=selection, resources=pipeline_resources(),
                            instance=instance, tags=tags, partition_key=None if last else first)
    assert result.success
    return result


def profile_tables(path) -> list:
    with duckdb.connect(str(path), read_only=True) as con:
        return [con.execute(f"SELECT * EXCLUDE (updated_at) FROM {t} ORDER BY profile_date, user_id")
                .fetchall() for t in ("profiles.user_profiles_history", "profiles.user_profiles")]


@pytest.fixture
def closed_day_data(data_dir):
    synthetic.generate(data_dir, users=300, products=60, days=len(DAYS), start=START, seed=11)
    shutil.rmtree(data_dir / "landing" / "events" / f"dt={CLOSED}")
    return data_dir


def test_closed_day_is_an_empty_partition_and_profiles_match_a_from_scratch_computation(
        closed_day_data, monkeypatch, tmp_path):
    data_dir = closed_day_data
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(ASSETS, selection=["raw_users", "raw_products"], instance=instance,
                          resources=pipeline_resources()).success
    result = materialize(instance, DAILY, DAYS[0], DAYS[-1])
    # the segment mix per day as a picture and the newest day's shares as numbers (no segment
    # model in this chain: every profile is unsegmented)
    profile_meta = result.asset_materializations_for_node("user_profiles")[0].metadata
    assert_pictures(profile_meta, "segment_mix_plot")
    assert profile_meta["segment_share_no_segment"].value == 1.0

    # the closed day is a materialized partition of every daily asset, with zero raw rows
    for key in DAILY:
        assert CLOSED in instance.get_materialized_partitions(dg.AssetKey(key)), key
    raw_meta = result.asset_materializations_for_node("raw_events")[0].metadata
    assert CLOSED in raw_meta["empty_days"].value
    warehouse = data_dir / "warehouse" / "test.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.events WHERE partition_date = ?",
                           [CLOSED]).fetchone()[0] == 0
        # features roll forward over the closed day: the same users, recency one day older
        before, on_closed = (con.execute(
            "SELECT count(*), sum(days_since_last_visit) FROM features.user_features "
            "WHERE feature_date = ?", [d]).fetchone() for d in (DAYS[1], CLOSED))
        assert on_closed[0] == before[0] and on_closed[1] == before[1] + before[0]
        # profiles are written for the users still in the window on the closed day
        assert con.execute("SELECT count(*) FROM profiles.user_profiles_history WHERE profile_date = ?",
                           [CLOSED]).fetchone()[0] == on_closed[0]
        for day in (CLOSED, DAYS[-1]):
            truth = {u: (f, round(v, 6)) for u, f, v in con.execute(FROM_SCRATCH, [day]).fetchall()}
            got = {u: (f, round(v, 6)) for u, f, v in con.execute(
                "SELECT user_id, first_seen_date, lifetime_value FROM profiles.user_profiles_history "
                "WHERE profile_date = ?", [day]).fetchall()}
            assert got and got == {u: truth[u] for u in got}
    in_order = profile_tables(warehouse)

    # a second warehouse: the same ingest, then features and profiles day by day, newest first
    monkeypatch.setenv("PROFILING_WAREHOUSE", str(tmp_path / "reverse.duckdb"))
    monkeypatch.setenv("PROFILING_PUBLISHED", str(tmp_path / "reverse-published.duckdb"))
    other = dg.DagsterInstance.ephemeral()
    assert dg.materialize(ASSETS, selection=["raw_users", "raw_products"], instance=other,
                          resources=pipeline_resources()).success
    materialize(other, DAILY[:3], DAYS[0], DAYS[-1])
    for day in reversed(DAYS):
        materialize(other, DAILY[3:], day)
    for got, expected in zip(profile_tables(tmp_path / "reverse.duckdb"), in_order, strict=True):
        assert_same_rows(got, expected, "profiles built newest day first")

    # the last run built the oldest day; the analysts' copy still shows the newest state
    with duckdb.connect(str(tmp_path / "reverse-published.duckdb"), read_only=True) as pub:
        assert pub.execute("SELECT profile_date FROM published").fetchone()[0] == date.fromisoformat(DAYS[-1])
        assert pub.execute("SELECT max(profile_date) FROM user_profiles_history").fetchone()[0] == \
            date.fromisoformat(DAYS[-1])
        latest = pub.execute("SELECT count(*) FROM user_profiles").fetchone()[0]
    assert latest == len(in_order[1])


def test_a_day_after_the_last_landed_day_is_missing_data_not_an_empty_day(closed_day_data):
    con = duckdb.connect(":memory:")
    from profiling_assets.resources import prepare_connection

    prepare_connection(con)
    # inside the landed range: an empty day
    report = ingest.ingest_day(con, CLOSED, closed_day_data)
    assert report.empty and report.lines_read == 0
    # after the last landed day: the data has not arrived, and the error says what to do
    later = (START + timedelta(days=len(DAYS))).isoformat()
    with pytest.raises(ingest.NoLandingFilesError, match=r"_SUCCESS"):
        ingest.ingest_day(con, later, closed_day_data)
    marker = closed_day_data / "landing" / "events" / f"dt={later}" / ingest.COMPLETE_MARKER
    marker.parent.mkdir()
    marker.touch()
    assert ingest.ingest_day(con, later, closed_day_data).empty
