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
