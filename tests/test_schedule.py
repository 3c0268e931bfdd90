"""The daily schedule: yesterday runs once it has landed, with the skipped days before it;
a day that has not landed yet is skipped with the folder's name, never a failed run."""

import shutil
from datetime import UTC, date, datetime

import dagster as dg

from profiling_assets import settings, synthetic
from profiling_assets.schedules import daily_schedule


def tick(instance, when: datetime):
    from profiling_assets.definitions import defs

    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                        repository_def=defs.get_repository_def())
    return daily_schedule.evaluate_tick(context)


def test_schedule_runs_landed_days_with_gaps_and_skips_days_not_landed(data_dir):
    synthetic.generate(data_dir, users=50, products=30, days=5, start=date(2026, 10, 1), seed=2)
    shutil.rmtree(data_dir / "landing" / "events" / "dt=2026-10-03")  # closed
    with dg.instance_for_test() as instance:
        _ticks(instance, data_dir)


def _ticks(instance, data_dir):
    # 2026-10-06 01:30: yesterday (10-05) has landed; the never-built days before it come along,
    # the closed 10-03 among them (an empty day now that later days have landed)
    result = tick(instance, datetime(2026, 10, 6, 1, 30, tzinfo=UTC))
    assert [r.partition_key for r in result.run_requests] == [
        "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05"]
    assert {r.run_key for r in result.run_requests} == {r.partition_key for r in result.run_requests}

    # 2026-10-07 01:30: nothing for 10-06 yet: a skip that names the folder, not a failed run
    result = tick(instance, datetime(2026, 10, 7, 1, 30, tzinfo=UTC))
    assert not result.run_requests
    assert "dt=2026-10-06" in result.skip_message and "_SUCCESS" in result.skip_message

    # a marker says 10-06 had no events: it runs as an empty day
    folder = settings.events_landing_dir("2026-10-06", data_dir)
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    result = tick(instance, datetime(2026, 10, 7, 1, 30, tzinfo=UTC))
    assert "2026-10-06" in [r.partition_key for r in result.run_requests]


def test_first_partition_comes_from_the_landed_data(data_dir, monkeypatch):
    monkeypatch.delenv("PROFILING_START_DATE")
    assert settings.start_date() == settings.DEFAULT_START_DATE  # nothing landed yet
    for day in ("2025-12-02", "2025-11-28", "not-a-day"):
        (data_dir / "landing" / "events" / f"dt={day}").mkdir(parents=True)
    assert settings.start_date() == "2025-11-28"
    monkeypatch.setenv("PROFILING_START_DATE", "2025-01-01")
    assert settings.start_date() == "2025-01-01"


def test_the_code_location_loads_without_warnings():
    """No beta or deprecation noise where `dg dev` or a run loads the definitions (the jobs'
    partitioning comes from their assets; the two beta parameters the assets rely on are
    filtered in the package's __init__)."""
    import os
    import subprocess
    import sys

    load = ("from profiling_assets.definitions import defs; "
            "repo = defs.get_repository_def(); [repo.get_job(n) for n in repo.job_names]")
    done = subprocess.run([sys.executable, "-W", "always", "-c", load], capture_output=True,
                          text=True, check=True, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "Warning" not in done.stderr, done.stderr
