"""The analysts' query is sandboxed: every attack a reviewer tried on the published copy is
refused with a clear message and leaves every file as it was."""

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from profiling_assets import cli, settings
from profiling_assets.analysts import QueryRefused, run_query

CLI = [sys.executable, "-m", "profiling_assets.cli"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def copies(data_dir):
    """A published copy with profiles, and the pipeline's warehouse holding PII."""
    warehouse = settings.warehouse_path()
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.users AS "
                    "SELECT 'u1' AS user_id, 'ann@example.com' AS email")
    published = settings.published_path()
    published.parent.mkdir(parents=True)
    with duckdb.connect(str(published)) as con:
        con.execute("CREATE TABLE user_profiles AS SELECT 'u' || i AS user_id, i * 1.5 AS value "
                    "FROM range(2500) t(i)")
    secret = data_dir / "secret.csv"
    secret.write_text("token\nabc123\n")
    return {"warehouse": warehouse, "published": published, "secret": secret}


ATTACKS = {
    "attach the warehouse read-write": "ATTACH '{warehouse}' AS wh (READ_WRITE)",
    "attach the warehouse read-only": "ATTACH '{warehouse}' AS wh (READ_ONLY)",
    "overwrite a file": "COPY (SELECT 1) TO '{secret}'",
    "write a new file": "COPY user_profiles TO '{new}'",
    "read another file": "SELECT * FROM read_csv('{secret}')",
    "read a system file": "SELECT * FROM read_text('/etc/passwd')",
    "list files": "SELECT * FROM glob('/etc/*')",
    "export the copy": "EXPORT DATABASE '{folder}'",
    "fetch a URL": "SELECT * FROM 'https://example.com/data.parquet'",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "lift the sandbox": "SET enable_external_access = true",
    "change the memory cap": "SET memory_limit = '100GB'",
    "delete profiles": "DELETE FROM user_profiles",
    "create a table": "CREATE TABLE x AS SELECT 1",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_is_refused_and_nothing_changes_on_disk(copies, attack):
    statement = ATTACKS[attack].format(**{k: v for k, v in copies.items()},
                                       new=copies["secret"].parent / "new.csv",
                                       folder=copies["secret"].parent / "export")
    before = {name: digest(path) for name, path in copies.items()}
    with pytest.raises(QueryRefused, match=r"^(refused|query failed)"):
        run_query(statement)
    assert {name: digest(path) for name, path in copies.items()} == before
    assert not (copies["secret"].parent / "new.csv").exists()
    assert not (copies["secret"].parent / "export").exists()


def test_queries_are_limited_and_timed_out_by_default(copies):
    result = run_query("SELECT * FROM user_profiles ORDER BY value")
    assert len(result.rows) == 1000 and result.truncated
    assert len(run_query("SELECT * FROM user_profiles", limit=0).rows) == 2500
    assert not run_query("SELECT count(*) FROM user_profiles").truncated
    with pytest.raises(QueryRefused, match="stopped after 0.5 s"):
        run_query("SELECT count(*) FROM range(1000000000000)", timeout_s=0.5)


def test_cli_refuses_with_one_line_and_a_non_zero_exit(copies):
    done = subprocess.run([*CLI, "query", f"ATTACH '{copies['warehouse']}' AS wh"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("refused: the analysts' copy is sandboxed")
    assert "Traceback" not in done.stderr
    done = subprocess.run([*CLI, "query", "SELECT user_id FROM user_profiles", "--format", "csv"],
                          capture_output=True, text=True, check=True)
    assert len(done.stdout.splitlines()) == 1001  # header + the default 1,000 rows
    assert "only the first 1,000 rows" in done.stderr


def test_query_prints_readable_tables_and_writes_parquet(copies, capsys, tmp_path):
    cli.main(["query", ("SELECT 2730.6500000000005 AS ltv, ['a', 'b'] AS items, "
                       "{'name': 'shoes', 'share': 0.333333333} AS top, repeat('x', 100) AS long")])
    out = capsys.readouterr().out
    row = out.splitlines()[2]
    assert "2,731" in row and "2730.65" not in row              # rounded
    assert "[a, b]" in row and "{name=shoes, share=0.3333}" in row  # no Python reprs
    assert "x" * 39 + "…" in row and "x" * 41 not in row        # cut at 40 characters
    target = tmp_path / "profiles.parquet"
    cli.main(["query", "SELECT user_id, value FROM user_profiles ORDER BY value", "--limit", "0",
              "--format", "parquet", "--output", str(target)])
    import pyarrow.parquet as pq
    table = pq.read_table(target)
    assert table.num_rows == 2500 and table.column_names == ["user_id", "value"]


def test_every_command_has_a_description():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in commands._choices_actions}
    assert set(helps) == set(commands.choices)
    assert all(h and len(h) > 10 for h in helps.values()), helps
