"""An operator's mistakes get one line and a non-zero exit, early: bad arguments, bad
settings, a warehouse that cannot be written."""

import subprocess
import sys
import time

import duckdb
import pytest

from profiling_assets import cli, resources
from profiling_assets.settings import WarehouseUnavailable


def fails(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    code = exit_.value.code
    message = code if isinstance(code, str) else capsys.readouterr().err
    assert code != 0 and code is not None
    assert "Traceback" not in message
    return message


@pytest.mark.parametrize(("argv", "expected"), [
    (["generate", "--users", "-5"], "--users: must be at least 1, not -5"),
    (["generate", "--days", "0"], "--days: must be at least 1, not 0"),
    (["generate", "--events-per-day", "many"], "a whole number is needed, not 'many'"),
    (["generate", "--start", "2026-02-30"], "--start '2026-02-30' is not a date"),
    (["generate", "--dirt-scale", "-1"], "--dirt-scale must be 0 or more"),
    (["generate", "--profile", "orders", "--products", "0"], "--products: must be at least 1"),
    (["materialize", "--start", "2026-13-01"], "--start '2026-13-01' is not a date"),
    (["materialize", "--start", "2026-10-05", "--end", "2026-10-01"], "--end 2026-10-01 is before --start"),
    (["run", "--start", "yesterday"], "--start 'yesterday' is not a date"),
    (["models", "list", "bogus"], "unknown model 'bogus': choose from text_encoder"),
    (["models", "rollback"], "models rollback needs one registry model: one of text_encoder"),
    (["models", "rollback", "propensity_model"], "propensity_model keeps a version per target"),
])
def test_bad_arguments_are_one_line(data_dir, capsys, argv, expected):
    assert expected in fails(argv, capsys)


def test_settings_are_checked_before_any_work(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("PROFILING_DUCKDB_MEMORY", "lots")
    monkeypatch.setenv("PROFILING_POOL_WAIT_SECONDS", "soon")
    message = fails(["summary"], capsys)
    assert "PROFILING_DUCKDB_MEMORY='lots' is not a memory size" in message
    assert "PROFILING_POOL_WAIT_SECONDS='soon'" in message


def test_a_warehouse_that_cannot_be_written_fails_at_once_naming_it(data_dir, capsys, monkeypatch):
    bad = data_dir / "not-a-database.duckdb"
    bad.write_text("these bytes are not a DuckDB file")
    started = time.perf_counter()
    with pytest.raises(WarehouseUnavailable, match="not-a-database.duckdb"):
        resources.open_warehouse(bad)
    assert time.perf_counter() - started < 5  # no lock-style retries
    monkeypatch.setenv("PROFILING_WAREHOUSE", str(bad))
    assert f"cannot open {bad}" in fails(["summary"], capsys)
    assert f"cannot open {bad}" in fails(["models", "list"], capsys)


def test_a_warehouse_locked_by_another_process_is_waited_for_then_named(data_dir, monkeypatch):
    path = data_dir / "locked.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen([sys.executable, "-c",
                               (f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
                               "print('held', flush=True); time.sleep(30)")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(resources, "LOCK_WAITS", (0.1, 0.2))
        with pytest.raises(WarehouseUnavailable, match="stayed locked by another process"):
            resources.open_warehouse(path)
    finally:
        holder.kill()
        holder.wait()


def test_summary_explains_each_quarantine_reason(data_dir, capsys):
    """`summary` says what each quarantined share is, in a line."""
    from datetime import date

    from profiling_assets import cleaning, ingest, settings, synthetic
    from profiling_assets.resources import prepare_connection

    synthetic.generate(data_dir, users=40, products=20, days=1, start=date(2026, 10, 1), seed=3)
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        prepare_connection(con)
        ingest.ingest_day(con, "2026-10-01", data_dir)
        cleaning.clean_day(con, "2026-10-01", cleaning.CleaningConfig())
        reasons = {r for (r,) in con.execute("SELECT DISTINCT reason FROM clean.events_quarantine").fetchall()}
    assert "bot" in reasons  # the demo plants bots
    cli.main(["summary"])
    out = capsys.readouterr().out
    for reason in reasons:
        assert f"quarantined {reason}: " in out
    assert "robots, scrapers" in out
    # the totals: where every line went, in shares
    assert "1 day(s), " in out and "accepted (" in out and "of the accepted, " in out
