"""`profiling-assets run` as a new user runs it: from landed order lines with closed days and
no models to published profiles, recorded as runs of their jobs; and a run killed with
SIGKILL mid-way never blocks the next, which ends with the same tables as an unkilled run."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef
from tables import assert_same_rows

from profiling_assets import synthetic

ROOT = Path(__file__).resolve().parent.parent
UI_URL = "http://dagster.test:3999"  # where the printed run links point (PROFILING_UI_URL)
CLI = [sys.executable, "-m", "profiling_assets.cli"]
# Tables a run produces, with the columns that differ between two runs of the same data left
# out: load times and paths, and what comes from model fits (two fits of the same data may
# differ in the last bits of their threaded linear algebra, which moves borderline users
# between segments; the kill must leave no trace in the data, which these columns compare).
COMPARED = {
    "raw.events": "loaded_at, source_file", "clean.events": "cleaned_at, source_file",
    "features.user_features": "computed_at",
    "profiles.user_profiles_history": "updated_at, text_encoder_version, svd_model_version, "
                                      "segment_model_version, segment_id, segment_name, "
                                      "segment_confidence, interest_keywords, recommended_items, "
                                      "recommendation_source",
}


def env_for(folder: Path) -> dict[str, str]:
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "instance" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROFILING_", "DAGSTER_HOME"))}
    return env | {"PROFILING_DATA_DIR": str(folder / "data"), "DAGSTER_HOME": str(home),
                  "TF_CPP_MIN_LOG_LEVEL": "3", "PROFILING_POOL_WAIT_SECONDS": "120"}


def orders(folder: Path) -> None:
    synthetic.generate_orders(folder / "data", users=400, products=200, days=16,
                              start=date(2026, 10, 1), seed=4)


def run_cli(env, *args, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def tables(folder: Path) -> dict[str, list]:
    path = folder / "data" / "warehouse" / "profiling.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT * EXCLUDE ({cols}) FROM {t} ORDER BY ALL").fetchall()
                for t, cols in COMPARED.items()}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """`run` on a fresh data folder: order lines with closed Saturdays, no models yet."""
    folder = tmp_path_factory.mktemp("clean")
    orders(folder)
    out = run_cli(env_for(folder) | {"PROFILING_UI_URL": UI_URL + "/"}, "run").stdout
    return folder, out


def test_run_on_fresh_order_lines_trains_publishes_and_records_runs_under_jobs(clean_run):
    folder, out = clean_run
    # the text encoder has nothing to learn from (no categories, reviews or searches): it says
    # so and the daily embeddings use the packaged model; the other models are fitted
    assert "text_encoder not trained" in out
    # not a terminal: plain lines, no bars redrawn with carriage returns, no colour codes
    assert "\r" not in out and "\x1b" not in out
    assert re.search(r"raw_events done in [\d.]+s: 16 days, [\d,]+ rows \([\d,]+/s\); 1/4 steps", out)
    assert "16 day(s), " in out  # the summary's totals
    published = folder / "data" / "published" / "profiles.duckdb"
    with duckdb.connect(str(published), read_only=True) as pub:
        users, newest = pub.execute("SELECT count(*), max(profile_date) FROM user_profiles").fetchone()
        # no categories: interests come from named product-text clusters, for everyone who
        # bought in the last 30 days; every profiled user has a fresh list, from a model or
        # the strongest baseline
        no_interests, no_recs = pub.execute(
            "SELECT count(*) FILTER (coalesce(len(interest_keywords), 0) = 0 "
            "AND days_since_last_purchase <= 29), "
            "count(*) FILTER (coalesce(len(recommended_items), 0) = 0) FROM user_profiles").fetchone()
    assert no_interests == 0 and no_recs == 0
    warehouse = folder / "data" / "warehouse" / "profiling.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customers = con.execute("SELECT count(DISTINCT user_id) FROM clean.events").fetchone()[0]
    # every customer of the 16 days has a profile, the newest day being the last landed one
    assert users == customers > 30 and newest == date(2026, 10, 16)
    saturdays = ["2026-10-03", "2026-10-10"]
    assert not any((folder / "data" / "landing" / "events" / f"dt={d}").exists() for d in saturdays)

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(folder / "dagster_home"))) as inst:
        runs = inst.get_runs()
        assert {r.job_name for r in runs} >= {"snapshots", "daily_ingest", "train_svd",
                                              "train_segments", "daily_model_outputs", "daily_profiles"}
        for run in runs:
            assert run.remote_job_origin is not None, run.job_name  # shown under its job in the UI
            assert run.remote_job_origin.repository_origin.get_label() == "__repository__@profiling_assets"
            # each run's id is printed with its page in the UI
            assert f"run {run.run_id}: {UI_URL}/runs/{run.run_id}\n" in out
        ranged = [r for r in runs if r.job_name == "daily_ingest"]
        assert len(ranged) == 1 and ranged[0].tags["dagster/asset_partition_range_end"] == "2026-10-16"
        # closed Saturdays are built as empty partitions
        assert set(saturdays) <= inst.get_materialized_partitions(dg.AssetKey("raw_events"))
        # what an order-line export lacks is named, with the columns it leaves empty
        meta = inst.get_latest_materialization_event(
            dg.AssetKey("user_profiles")).asset_materialization.metadata
        assert {"categories", "views", "reviews", "searches"} <= set(meta["missing_inputs"].value.split(", "))
        assert {"top_category", "price_sensitivity"} <= set(meta["empty_columns"].value.split(", "))
        assert "category" in meta["missing_inputs_effect"].value["categories"]


def test_a_killed_run_never_blocks_the_next(clean_run, tmp_path):
    reference, _ = clean_run
    orders(tmp_path)
    env = env_for(tmp_path)
    victim = subprocess.Popen([*CLI, "run"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    ref = InstanceRef.from_dir(env["DAGSTER_HOME"])
    deadline = time.monotonic() + 300
    killed_run = None
    with dg.DagsterInstance.from_ref(ref) as inst:
        # kill -9 while the day-range ingest holds the warehouse's pool slot
        while killed_run is None and time.monotonic() < deadline and victim.poll() is None:
            claimed = inst.event_log_storage.get_concurrency_info("duckdb").claimed_slots
            owners = {inst.get_run_by_id(s.run_id).job_name: s.run_id for s in claimed}
            killed_run = owners.get("daily_ingest")
            time.sleep(0.05)
        assert killed_run, "the run ended before it could be killed mid-way"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert inst.get_run_by_id(killed_run).status == dg.DagsterRunStatus.STARTED

    out = run_cli(env, "run", timeout=600).stdout
    assert killed_run in out and "marked failed" in out
    assert re.search(r"daily_ingest 2026-10-01\.\.2026-10-16: run \S+: http://127\.0\.0\.1:3000/runs/", out)
    with dg.DagsterInstance.from_ref(ref) as inst:
        assert inst.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
        assert not inst.event_log_storage.get_concurrency_info("duckdb").claimed_slots
    resumed, unkilled = tables(tmp_path), tables(reference)
    for table in COMPARED:
        assert_same_rows(resumed[table], unkilled[table], table)
    assert not list((tmp_path / "data" / "published").glob(".*.tmp*"))


def test_materialize_without_any_model_says_which_command_trains_them(data_dir, capsys):
    from profiling_assets import cli

    synthetic.generate_orders(data_dir, users=50, products=40, days=3, start=date(2026, 10, 1), seed=1)
    with pytest.raises(SystemExit, match=r"no model has been trained.*profiling-assets run"):
        cli.main(["materialize"])
    with pytest.raises(SystemExit, match=r"--end 2026-09-01 is before --start 2026-10-02"):
        cli.main(["run", "--start", "2026-10-02", "--end", "2026-09-01"])
    with pytest.raises(SystemExit, match=r"'2026-13-01' is not a date"):
        cli.main(["run", "--start", "2026-13-01"])
