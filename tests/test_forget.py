"""Forgetting a user: no trace in any table of the warehouse or of the analysts' copy, a
deletion log and a suppression list keyed by a secret hash, unknown ids reported, a locked
warehouse refused, previews without personal data, and re-ingest keeping them out."""

import hashlib
import os
import re
import stat
import subprocess
import sys
import time
from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pytest

from profiling_assets import cli, forget, settings, sql
from profiling_assets.encoder import EncodeStats
from profiling_assets.resources import prepare_connection

DAYS = ("2026-10-01", "2026-10-04")
RANGE = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[1]}
# Columns a preview (Dagster metadata, kept in the run log) must never show.
PERSONAL = {"age", "gender", "city", "signup_date", "email", "phone", "query", "review_text",
            "raw_line", "raw_row", "text"}


class FakeEncoder:
    """A stand-in for BERT: deterministic unit vectors per text, in microseconds (what is
    tested here is where the texts go, not what they mean)."""

    device, max_length, dim, backend = "CPU", 256, 384, "fake"

    def __init__(self, *args, **kwargs):
        pass

    def encode_with_tokens(self, texts, *, progress=None, stats: EncodeStats | None = None):
        seeds = [int(hashlib.md5(t.encode()).hexdigest()[:8], 16) for t in texts]
        out = np.stack([np.random.default_rng(s).standard_normal(384) for s in seeds]).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if stats is not None:
            stats.texts += len(texts)
        return out, [len(t.split()) for t in texts]


def traces(con: duckdb.DuckDBPyConnection, catalog: str, user_id: str, texts: set[str]) -> list:
    """Every (table.column, hits) of the columns that hold text (VARCHAR, lists and structs of
    it, JSON) where the id appears as a whole token, or one of ``texts`` as a whole value or
    quoted inside a verbatim line."""
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = ? AND (data_type LIKE '%VARCHAR%' OR data_type LIKE '%JSON%')",
            [catalog]).fetchall():
        columns.setdefault((schema, table), []).append(column)
    pattern = rf"(^|[^A-Za-z0-9]){re.escape(user_id)}([^A-Za-z0-9]|$)"
    found = []
    for (schema, table), names in columns.items():
        # one scan per table: a count per column
        counts = ", ".join(
            f'count_if(regexp_matches(CAST("{c}" AS VARCHAR), $p) OR CAST("{c}" AS VARCHAR) IN '
            f'(SELECT unnest($t)) OR list_has_any(regexp_extract_all(CAST("{c}" AS VARCHAR), '
            f"'\"([^\"]*)\"', 1), $t))" for c in names)
        row = con.execute(f'SELECT {counts} FROM "{catalog}"."{schema}"."{table}"',
                          {"p": pattern, "t": sorted(texts) or ["\x00"]}).fetchone()
        found += [(f"{schema}.{table}.{c}", n) for c, n in zip(names, row, strict=True) if n]
    return found


@pytest.fixture
def warehouse_chain(build_demo, data_dir, monkeypatch):
    """Four demo days through every daily asset that holds users (text with a fake encoder),
    the models fitted small, profiles built and published. Returns (warehouse, instance)."""
    from profiling_assets import factors, features, profiles, segments, text

    monkeypatch.setattr(text, "TextEncoder", FakeEncoder)
    daily = [features.user_daily_activity, features.user_features, text.text_embeddings,
             text.user_text_profile, factors.user_factors, factors.recommendations,
             segments.user_segments, profiles.user_profiles]
    assets, resources, instance = build_demo(
        users=80, products=30, days=4,
        extra_assets=[*daily, factors.svd_model, segments.segment_model],
        selection=["raw_events", "cleaned_events", "user_daily_activity", "user_features",
                   "text_embeddings", "user_text_profile"])
    # the models are other tests' subject: fitted small, and a failed fit only leaves its
    # outputs out (the forget covers whatever tables hold the user)
    dg.materialize(assets, selection=["svd_model"], resources=resources, instance=instance,
                   run_config={"ops": {"svd_model": {"config": {
                       "k": 4, "als_iterations": 2, "families": ["svd"]}}}}, raise_on_error=False)
    dg.materialize(assets, selection=["user_factors", "recommendations"], resources=resources,
                   instance=instance, tags=RANGE, raise_on_error=False)
    dg.materialize(assets, selection=["segment_model"], resources=resources, instance=instance,
                   run_config={"ops": {"segment_model": {"config": {"k": 4, "n_init": 2}}}},
                   raise_on_error=False)
    assert dg.materialize(assets, selection=["user_segments", "user_profiles"], resources=resources,
                          instance=instance, tags=RANGE).success
    return data_dir / "warehouse" / "test.duckdb", instance


def pick_user(con: duckdb.DuckDBPyConnection) -> tuple[str, set[str]]:
    """A profiled user who wrote texts nobody else wrote and texts others wrote too (most own
    texts first); and their own texts."""
    user_id, own = con.execute("""
        WITH texts AS (
            SELECT DISTINCT user_id, t AS text FROM clean.events, unnest([query, review_text]) AS u(t)
            WHERE t IS NOT NULL),
        shared AS (SELECT text FROM texts GROUP BY text HAVING count(*) > 1)
        SELECT user_id, list(text) FILTER (WHERE text NOT IN (SELECT text FROM shared)) AS own
        FROM texts JOIN profiles.user_profiles USING (user_id)
        GROUP BY user_id
        HAVING len(own) > 0 AND bool_or(text IN (SELECT text FROM shared))
        ORDER BY len(own) DESC, user_id LIMIT 1""").fetchone()
    return user_id, set(own)


def test_forget_leaves_no_trace_in_warehouse_or_published_copy(warehouse_chain, data_dir, capsys):
    warehouse, instance = warehouse_chain
    published = settings.published_path()
    assert published.exists()
    with duckdb.connect(str(warehouse)) as con:
        user_id, own_texts = pick_user(con)
        assert own_texts, "the demo user should have written a text nobody else wrote"
        # texts of the user that someone else also wrote stay (they no longer link to them)
        shared = {r[0] for r in con.execute(
            "SELECT e.text FROM ml.text_embeddings e JOIN ml.text_occurrences o USING (text_hash) "
            "WHERE o.kind IN ('query', 'review') GROUP BY e.text "
            "HAVING bool_or(o.user_id = ?) AND bool_or(o.user_id <> ?)", [user_id, user_id]).fetchall()}
        assert shared, "the demo user should share a query with someone"
        # verbatim lines as the raw layer keeps them: a CSV line with their id, a snapshot row,
        # and a decoy whose id merely starts with theirs (must stay)
        con.execute("INSERT INTO raw.events_rejected VALUES (?, 'x.csv', 7, ?, 'malformed', now()), "
                    "(?, 'x.csv', 8, ?, 'malformed', now())",
                    [date(2026, 10, 2), f'e9,2026-10-02T10:00:00Z, "{user_id}" ,S1,zap',
                     date(2026, 10, 2), f"e10,2026-10-02T10:00:00Z,{user_id}9,S1,zap"])
        con.execute("INSERT INTO raw.snapshot_rejected VALUES ('users', 'users.csv', 3, ?, "
                    "'superseded_by_later_row', now())", [f'{{"user_id":"{user_id}","city":"Oslo"}}'])
        tables_with_user = {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.columns "
            "WHERE column_name = 'user_id' AND table_catalog = current_database()").fetchall()
            if con.execute(f'SELECT count(*) FROM "{s}"."{t}" WHERE user_id = ?', [user_id]).fetchone()[0]}
        catalog = " ".join(str(v) for r in con.execute(
            "SELECT title, description, category, brand FROM raw.products").fetchall() for v in r)
        others_before = con.execute("SELECT count(DISTINCT user_id) FROM clean.events "
                                    "WHERE user_id <> ?", [user_id]).fetchone()[0]
    # the chain really filled the model tables this test is about
    assert {"raw.events", "clean.events", "raw.users", "features.user_features",
            "ml.text_occurrences", "ml.user_text_profile", "profiles.user_profiles",
            "profiles.user_profiles_history"} <= tables_with_user
    with duckdb.connect(str(published), read_only=True) as pub:
        assert traces(pub, "profiles", user_id, own_texts), "the published copy should show the user first"

    started = time.perf_counter()
    cli.main(["forget", user_id, "--compact"])
    took = time.perf_counter() - started
    out = capsys.readouterr().out
    assert f"forgot {user_id}:" in out and "republished" in out and "rewritten" in out

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert traces(con, "test", user_id, own_texts) == []
        # the decoy, the shared texts and every other user are still there
        assert {r[0] for r in con.execute("SELECT text FROM ml.text_embeddings").fetchall()} >= shared
        assert con.execute("SELECT count(*) FROM raw.events_rejected WHERE raw_line LIKE ?",
                           [f"%,{user_id}9,%"]).fetchone()[0] == 1
        assert con.execute("SELECT count(DISTINCT user_id) FROM clean.events").fetchone()[0] == others_before
        key = forget.suppression_key()
        digest = hashlib.sha256(f"{key}:{user_id}".encode()).hexdigest()
        assert con.execute("SELECT sha256(? || ':' || ?)", [key, user_id]).fetchone()[0] == digest
        assert con.execute("SELECT id_hash FROM meta.suppressed_users").fetchall() == [(digest,)]
        log = dict(con.execute("SELECT table_name, rows_removed FROM meta.deletion_log "
                               "WHERE id_hash = ?", [digest]).fetchall())
    assert tables_with_user <= log.keys()
    assert log["raw.events_rejected"] >= 1 and log["raw.snapshot_rejected"] == 1
    assert log["ml.text_embeddings"] >= 1 and all(n > 0 for n in log.values())
    with duckdb.connect(str(published), read_only=True) as pub:
        assert traces(pub, "profiles", user_id, own_texts) == []
        assert pub.execute("SELECT count(*) FROM user_profiles").fetchone()[0] > 0
    assert took < 15, f"forget took {took:.1f} s"
    # not even in the files' bytes (DuckDB keeps deleted rows until it reuses their blocks)
    for path in (warehouse, published):
        data = path.read_bytes()
        assert not re.search(rb"(^|[^A-Za-z0-9])" + re.escape(user_id.encode()) + rb"([^A-Za-z0-9]|$)",
                             data), path
        assert not [t for t in own_texts if t not in catalog and t.encode() in data], path

    # previews (Dagster metadata, kept in the run log) show ids and aggregates only
    with duckdb.connect(str(warehouse), read_only=True) as con:
        people = {v for row in con.execute("SELECT city, email, phone FROM raw.users").fetchall()
                  for v in row if v}
        # reviews: short queries can equal a category or brand name, which previews do show
        texts = {r[0] for r in con.execute("SELECT text FROM ml.text_embeddings WHERE kind = 'review'")
                 .fetchall()}
        for path in sorted(sql.SQL_DIR.glob("preview_*.sql")):
            cursor = sql.run(con, path.stem, day=DAYS[1])
            columns = {d[0] for d in cursor.description}
            assert not columns & PERSONAL, (path.name, columns & PERSONAL)
            cells = {str(v) for row in cursor.fetchall() for v in row}
            assert not cells & (people | texts), path.name
    for key in ("user_daily_activity", "user_features", "user_text_profile", "user_factors",
                "recommendations", "user_segments", "user_profiles"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        metadata = event.asset_materialization.metadata if event else {}
        if event is None or "skipped" in metadata:  # a model output left out (see the fixture)
            continue
        shown = " ".join(str(v.value) for v in metadata.values())
        assert "preview" in metadata, key
        assert not [p for p in people | texts if p in shown], key


def test_unknown_id_is_reported_and_suppressed(data_dir, capsys):
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        prepare_connection(con)
    ids = data_dir / "ids.txt"
    ids.write_text("# requests of the week\nU-nobody\n\n")
    cli.main(["forget", "--file", str(ids)])
    assert "not found: U-nobody" in capsys.readouterr().out
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT table_name, rows_removed FROM meta.deletion_log").fetchall() == [(None, 0)]
        assert con.execute("SELECT id_hash FROM meta.suppressed_users").fetchone()[0] == forget.id_hash("U-nobody")
    # the key file: 32 random bytes as hex, readable by its owner only, reused
    key_file = data_dir / "secrets" / "forget.key"
    assert re.fullmatch(r"[0-9a-f]{64}", key_file.read_text().strip())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert forget.suppression_key() == key_file.read_text().strip()
    with pytest.raises(SystemExit, match="at least one USER_ID"):
        cli.main(["forget"])


def test_key_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("PROFILING_FORGET_KEY", "s3cret")
    assert forget.suppression_key() == "s3cret"
    assert forget.id_hash("U1") == hashlib.sha256(b"s3cret:U1").hexdigest()
    assert not (data_dir / "secrets").exists()


def test_locked_warehouse_is_refused_with_one_line(data_dir):
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True)
    duckdb.connect(str(path)).close()
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(SystemExit) as exc:
            cli.main(["forget", "U1"])
    finally:
        holder.kill()
        holder.wait()
    message = str(exc.value)
    assert "\n" not in message and "locked" in message and "run" in message


def test_reingest_keeps_forgotten_user_out(data_dir):
    from profiling_assets import cleaning, ingest, synthetic

    synthetic.generate(data_dir, users=60, products=20, days=2, start=date(2026, 10, 1), seed=4)
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True)
    users_files = sorted((data_dir / "landing" / "users").glob("*.csv"))
    days = ("2026-10-01", "2026-10-02")
    with duckdb.connect(str(path)) as con:
        prepare_connection(con)
        ingest.load_snapshot(con, "users", users_files)
        for day in days:
            ingest.ingest_day(con, day, data_dir)
            cleaning.clean_day(con, day, cleaning.CleaningConfig())
        (user_id,) = con.execute("SELECT user_id FROM clean.events GROUP BY 1 "
                                 "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()
        lines = con.execute("SELECT count(*) FROM raw.events WHERE user_id = ?", [user_id]).fetchone()[0]
    forget.forget_users([user_id])
    with duckdb.connect(str(path)) as con:
        prepare_connection(con)
        ingest.load_snapshot(con, "users", users_files)
        for day in days:
            ingest.ingest_day(con, day, data_dir)
            cleaning.clean_day(con, day, cleaning.CleaningConfig())
        assert traces(con, "test", user_id, set()) == []
        refused = con.execute("SELECT count(*), count(raw_line) FROM raw.events_rejected "
                              "WHERE reason = 'suppressed_user'").fetchone()
    assert refused[0] >= lines > 0 and refused[1] == 0
    assert os.environ.get("PROFILING_FORGET_KEY") is None  # the key file was the one used
