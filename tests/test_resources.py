"""The warehouse connection: tables created once per schema version, created again when the
schema files change, and cheap repeated connections while a run holds the database."""

import dagster as dg
import duckdb

from profiling_assets import resources


def test_schema_files_run_again_when_their_digest_changes(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        resources.prepare_connection(con)
        con.execute("DROP TABLE profiles.user_profiles")
    # same digest: the tables are trusted to exist (the drop above is not repaired)
    with duckdb.connect(path) as con:
        resources.prepare_connection(con)
        assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'profiles' "
                               "AND table_name = 'user_profiles'").fetchone()[0]
        con.execute("UPDATE meta.schema_state SET digest = 'an older schema'")
    # another digest (a schema file changed): every CREATE runs again
    with duckdb.connect(path) as con:
        resources.prepare_connection(con)
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'profiles' "
                           "AND table_name = 'user_profiles'").fetchone()[0] == 1
        assert con.execute("SELECT digest FROM meta.schema_state").fetchall() == [
            (resources.schema_digest(),)]


# a value of each type the keyless tables' NOT NULL columns have
_VALUES = {"DATE": "DATE '2026-10-01'", "TIMESTAMP": "TIMESTAMP '2026-10-01 08:00:00'",
           "VARCHAR": "'u1'", "INTEGER": "3", "DOUBLE": "0.5", "FLOAT[]": "[0.5]::FLOAT[]",
           "FLOAT[384]": "list_transform(range(384), x -> 0.25)::FLOAT[384]",
           "VARCHAR[]": "['sport']"}


def test_tables_made_with_a_primary_key_lose_it_and_keep_their_rows(tmp_path):
    """A warehouse made when the daily tables had primary keys gets them without the key when
    next opened after the schema changed (the key's index made each daily write seconds
    slower), with their rows, column order and NOT NULLs; opening it again changes nothing."""
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        resources.prepare_connection(con)
        for schema, table in resources.KEYLESS_TABLES:
            columns = con.execute(
                "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE schema_name = ?"
                " AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()
            con.execute(f"DROP TABLE {schema}.{table}")
            key = ", ".join(c[0] for c in columns[:3 if table == "recommendations" else 2])
            con.execute(f"CREATE TABLE {schema}.{table} ("
                        + ", ".join(f"{n} {t}{'' if null else ' NOT NULL'}" for n, t, null in columns)
                        + f", PRIMARY KEY ({key}))")
            con.execute(f"INSERT INTO {schema}.{table} VALUES ("
                        + ", ".join("NULL" if null else _VALUES[t] for _, t, null in columns) + ")")
        before = {t: (con.execute(f"SELECT * FROM {t[0]}.{t[1]}").fetchall(),
                      con.execute("SELECT column_name, is_nullable FROM duckdb_columns() WHERE"
                                  " schema_name = ? AND table_name = ? ORDER BY column_index",
                                  list(t)).fetchall())
                  for t in resources.KEYLESS_TABLES}
        assert set(resources.KEYLESS_TABLES) <= set(con.execute(
            "SELECT schema_name, table_name FROM duckdb_constraints()"
            " WHERE constraint_type = 'PRIMARY KEY'").fetchall())
        con.execute("UPDATE meta.schema_state SET digest = 'an older schema'")
    for _ in range(2):
        with duckdb.connect(path) as con:
            resources.prepare_connection(con)
            keyed = set(con.execute("SELECT schema_name, table_name FROM duckdb_constraints()"
                                    " WHERE constraint_type = 'PRIMARY KEY'").fetchall())
            assert not keyed & set(resources.KEYLESS_TABLES)
            assert ("ml", "model_registry") in keyed  # a table whose key stays keeps it
            for t, (rows, columns) in before.items():
                assert con.execute(f"SELECT * FROM {t[0]}.{t[1]}").fetchall() == rows, t
                assert con.execute("SELECT column_name, is_nullable FROM duckdb_columns() WHERE"
                                   " schema_name = ? AND table_name = ? ORDER BY column_index",
                                   list(t)).fetchall() == columns, t
            assert not con.execute("SELECT count(*) FROM duckdb_tables()"
                                   " WHERE table_name LIKE '%_keyed'").fetchone()[0]


def test_the_database_is_released_when_the_run_ends(tmp_path):
    path = tmp_path / "w.duckdb"

    @dg.asset
    def writes(warehouse: resources.WarehouseResource) -> None:
        for day in range(3):
            with warehouse.get_connection() as con:
                con.execute("CREATE TABLE IF NOT EXISTS t (d INTEGER)")
                con.execute("INSERT INTO t VALUES (?)", [day])

    assert dg.materialize([writes], resources={"warehouse": resources.warehouse_resource(path)}).success
    # no connection left open: another process (or this one, read-only) can open the file
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3
