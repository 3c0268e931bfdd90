"""What every asset declares for the UI — column schema and table name, owners, code references —
against the warehouse the SQL creates and the README; and the shape of table metadata."""

import math
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from profiling_assets import columns, metadata, sql
from profiling_assets.definitions import SQL_BY_ASSET, defs
from profiling_assets.resources import prepare_connection

README = Path(__file__).resolve().parent.parent / "README.md"
# Model assets whose output is a model folder and a registry row (ml.model_registry, shared by
# every model), not a table of their own.
NO_TABLE = {"text_encoder", "propensity_model"}


@pytest.fixture(scope="module")
def asset_graph():
    return defs.resolve_asset_graph()


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    prepare_connection(con)
    yield con
    con.close()


def _warehouse_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    schema, name = table.split(".")
    return [(c, t.replace('"', ""), nullable) for c, t, nullable in con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index", [schema, name]).fetchall()]


def test_every_table_producing_asset_declares_its_warehouse_table(asset_graph, warehouse):
    declared = {}
    for key in asset_graph.get_all_asset_keys():
        meta = asset_graph.get(key).metadata
        if "dagster/column_schema" in meta:
            declared[key.to_user_string()] = (meta["dagster/table_name"], meta["dagster/column_schema"])
    assert set(declared) | NO_TABLE == {k.to_user_string() for k in asset_graph.get_all_asset_keys()}
    assert not set(declared) & NO_TABLE

    for asset, (table_name, schema) in declared.items():
        database, table = table_name.split(".", 1)
        assert database == columns.DATABASE, asset
        got = [(c.name, c.type, c.constraints.nullable) for c in schema.columns]
        assert got == _warehouse_columns(warehouse, table), f"{asset}: {table}"
        assert all(c.description for c in schema.columns), asset
    # the latest-row table has the history's columns (created from it, without its NOT NULLs)
    history = [(c.name, c.type) for c in columns.TABLES["profiles.user_profiles_history"]]
    assert [c[:2] for c in _warehouse_columns(warehouse, "profiles.user_profiles")] == history


def test_every_asset_has_owners_and_code_references_to_its_function_and_sql(asset_graph):
    keys = {k.to_user_string() for k in asset_graph.get_all_asset_keys()}
    assert set(SQL_BY_ASSET) == keys
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        assert node.owners == metadata.OWNERS, key
        refs = node.metadata["dagster/code_references"].code_references
        function, *files = refs
        assert function.file_path.endswith(".py") and Path(function.file_path).is_file(), key
        assert function.line_number and function.line_number > 0, key
        stems = SQL_BY_ASSET[key.to_user_string()]
        assert [Path(r.file_path).stem for r in files] == list(stems), key
        assert all(r.label == f"sql/{Path(r.file_path).name}" for r in files), key
        missing = [r.file_path for r in files if not Path(r.file_path).is_file()]
        assert not missing, (key, missing)
        assert all(Path(r.file_path).parent == sql.SQL_DIR for r in files), key


def _readme_table(text: str, header: str) -> list[list[str]]:
    lines = text[text.index(header + "\n"):].split("\n\n")[0].splitlines()[2:]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in lines]


def test_readme_profile_table_is_written_from_the_column_source():
    text = README.read_text()
    rows = _readme_table(text, columns.README_PROFILE_HEADER)
    documented = {}
    for names, types, meaning in rows:
        names = re.findall(r"`([^`]+)`", names)
        each = re.split(r", (?![^(]*\))", types)  # commas outside STRUCT(...)
        types = each if len(each) == len(names) else [types] * len(names)
        documented |= {n: (t, meaning) for n, t in zip(names, types, strict=True)}
    source = {c.name: (columns.readme_type(c.type), c.description) for c in columns.USER_PROFILES}
    assert documented.keys() == source.keys()
    assert {n: v for n, v in documented.items() if v != source[n]} == {}
    assert columns.readme_profile_table() in text, (
        "the README's profile table is out of date: python -m profiling_assets.columns README.md")


def test_readme_column_lists_name_the_declared_columns():
    rows = _readme_table(README.read_text(), "| table | columns |")
    checked = 0
    for table, listed in rows:
        table = table.strip("`")
        if table in columns.TABLES:
            names = [name.split()[0] for name in re.findall(r"`([^`]+)`", listed)]
            assert names == [c.name for c in columns.TABLES[table]], table
            checked += 1
    assert checked >= 2


def test_preview_is_table_metadata_with_schema_and_rounded_values(warehouse):
    warehouse.execute("""
        INSERT INTO ml.user_text_profile VALUES
            ('2026-10-02', 'u1', 'v1', 3, 1, 1, 1, ?::FLOAT[384], ['books', 'garden'],
             [0.87654321, 0.123456789], '2026-10-02')""", [[0.05] * 384])
    value = metadata.preview_file(warehouse, "preview_user_text_profile", day="2026-10-02")
    assert isinstance(value, dg.TableMetadataValue)
    schema = {c.name: (c.type, c.description) for c in value.schema.columns}
    assert schema["user_id"] == ("string", "DuckDB VARCHAR")
    assert schema["texts"] == ("int", "DuckDB INTEGER")
    assert schema["top_interest_scores"] == ("string", "DuckDB FLOAT[]")
    assert schema["last_text_date"] == ("string", "DuckDB DATE")
    (record,) = value.records
    assert record.data["texts"] == 3 and record.data["last_text_date"] == "2026-10-02"
    assert record.data["top_interests"] == "[books, garden]"
    assert record.data["top_interest_scores"] == "[0.8765, 0.1235]"

    warehouse.execute("""
        INSERT INTO features.user_daily_activity VALUES
            ('2026-10-02', 'u1', 9, 5, 2, 2, 1, 0, 1, 0, 1, 3, 12345.678, 0, 4, 2, 3,
             '2026-10-02 08:00', '2026-10-02 20:00', 0, 4, 3, 2, 2, 1.7, 1, now())""")
    (record,) = metadata.preview_file(warehouse, "preview_user_daily_activity", day="2026-10-02").records
    assert record.data["revenue"] == 12346.0   # whole from 1,000 on


def test_table_values_round_to_four_significant_digits_and_infer_types():
    value = metadata.table_value(
        ["name", "n", "share", "ok", "when"],
        [["a", 3, 0.123456, True, None], ["b", 4, 2, False, None], ["c", None, math.nan, None, None]])
    assert [(c.name, c.type) for c in value.schema.columns] == [
        ("name", "string"), ("n", "int"), ("share", "float"), ("ok", "bool"), ("when", "string")]
    assert [r.data["share"] for r in value.records] == [0.1235, 2, None]
    assert [metadata.round_float(x) for x in (12.3456, 0.00123456, 98765.4321, -1.5, 0.0)] == [
        12.35, 0.001235, 98765.0, -1.5, 0.0]
    assert metadata.cell(list(range(10))) == "[0, 1, 2, 3, 4, 5, 6, 7, … (+2)]"
    assert metadata.cell({"name": "x", "share": 1 / 3}) == "{name=x, share=0.3333}"

    assert metadata.table_markdown(value).splitlines()[:3] == [
        "| name | n | share | ok | when |", "|---|---|---|---|---|", "| a | 3 | 0.1235 | True |  |"]

    counts = metadata.counts_table({"b": 1, "a": 5, "c": 1})
    assert [tuple(r.data.values()) for r in counts.records] == [("a", 5), ("b", 1), ("c", 1)]
    assert [c.type for c in counts.schema.columns] == ["string", "int"]
