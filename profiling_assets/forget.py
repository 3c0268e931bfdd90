"""``profiling-assets forget``: remove users from every table of the warehouse and keep them out.

A forget, in one transaction on the warehouse (taken read-write, so no run is writing):

1. finds the tables that can hold a user in DuckDB's catalog (``sql/select_forget_tables.sql``):
   every table with a ``user_id`` column, every VARCHAR column named ``raw_*`` (verbatim
   rejected lines and snapshot rows), and every table keyed by ``text_hash``;
2. notes the texts each user wrote (queries, reviews), hashed as the text assets hash them;
3. deletes their rows from every ``user_id`` table, the verbatim lines that carry their id as
   a whole JSON or CSV field value (rule in ``sql/forget_verbatim_rows.sql``), and the cached
   texts that only they wrote (a text someone else also wrote or touched is kept: once their
   occurrences are gone it no longer links to them);
4. puts them on the suppression list and writes the deletion log (``meta.*``);

then checkpoints and republishes the analysts' copy. See docs/privacy.md.

The suppression list holds no id in clear. For a user id ``u`` it stores::

    id_hash = sha256(key || ':' || u)          -- lowercase hex; DuckDB: sha256($key || ':' || user_id)

with ``key = suppression_key()``: ``PROFILING_FORGET_KEY`` when set, else the contents of
``<data dir>/secrets/forget.key`` (64 hex characters, created with mode 0600 on first use).
Ingest refuses a line whose user is suppressed with exactly this test::

    sha256($key || ':' || user_id) IN (SELECT id_hash FROM meta.suppressed_users)

(the line counts as rejected with reason ``suppressed_user`` and its raw text is not kept).
Losing or changing the key silently empties the list for ingest: back the key file up with
the warehouse.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from profiling_assets import settings, signals, sql
from profiling_assets.encoder import normalize_text
from profiling_assets.resources import transaction

KEY_ENV = "PROFILING_FORGET_KEY"


class ForgetError(RuntimeError):
    """A forget that cannot run or finish; the message is one line for the CLI."""


class WarehouseLocked(ForgetError):
    """Another process (a Dagster run) holds the warehouse's write lock."""


class NoWarehouse(ForgetError):
    pass


def key_path() -> Path:
    return settings.data_dir() / "secrets" / "forget.key"


def suppression_key() -> str:
    """The secret the suppression hashes are keyed with: ``PROFILING_FORGET_KEY``, else the key
    file under the data dir, created on first use (32 random bytes as hex, mode 0600)."""
    explicit = os.environ.get(KEY_ENV, "").strip()
    if explicit:
        return explicit
    path = key_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: of two first uses racing, one writes the key and the other reads it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ForgetError(f"the forget key file {path} is empty: restore it from a backup "
                               f"or set {KEY_ENV}") from None
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def id_hash(user_id: str, key: str | None = None) -> str:
    """sha256(key || ':' || user_id) as lowercase hex: the suppression list's form of an id."""
    key = suppression_key() if key is None else key
    return hashlib.sha256(f"{key}:{user_id}".encode()).hexdigest()


def text_hash(text: str) -> str:
    """The text assets' hash of a text (md5 of the normalised text, see text.text_hash)."""
    return hashlib.md5(normalize_text(text).encode("utf-8")).hexdigest()


@dataclass
class Forgotten:
    user_id: str
    id_hash: str
    rows: dict[str, int] = field(default_factory=dict)   # table -> rows removed

    @property
    def found(self) -> bool:
        return bool(self.rows)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass
class ForgetReport:
    users: list[Forgotten]
    forgotten_at: datetime
    published: Path | None
    compacted: bool = False


def forget(con: duckdb.DuckDBPyConnection, user_ids: Iterable[str], *, key: str | None = None,
           now: datetime | None = None) -> ForgetReport:
    """Remove ``user_ids`` from every table of the warehouse open on ``con``, suppress them and
    log the deletion, in one transaction (all or nothing). Ids found nowhere are suppressed
    and logged too (the request is on record; their data may not have landed yet). Does not
    republish: see :func:`forget_users`."""
    ids = sorted({u.strip() for u in user_ids if u and u.strip()})
    if not ids:
        raise ValueError("no user id to forget")
    key = suppression_key() if key is None else key
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with transaction(con):
        sql.run(con, "forget_stage_ids", ids=ids, key=key)
        tables = sql.query(con, "select_forget_tables")
        # texts first: the rows that say who wrote what are deleted next
        authored: list[tuple[str, str]] = []
        for schema, name, has_user_id, _, text_columns, _ in tables:
            for column in text_columns if has_user_id else ():
                rows = sql.run(con, "select_forget_authored_texts",
                               identifiers={"table": (schema, name), "column": column}).fetchall()
                authored += [(user, text_hash(text)) for user, text in rows
                             if normalize_text(text)]
        if authored:
            sql.run(con, "insert_forget_texts", user_ids=[a[0] for a in authored],
                    text_hashes=[a[1] for a in authored])
        sql.run(con, "stage_forget_occurrence_texts")
        for schema, name, has_user_id, verbatim, _, _ in tables:
            if has_user_id:
                sql.run(con, "forget_user_rows", identifiers={"table": (schema, name)},
                        table_name=f"{schema}.{name}")
            for column in verbatim:
                sql.run(con, "forget_verbatim_rows",
                        identifiers={"table": (schema, name), "column": column},
                        table_name=f"{schema}.{name}")
        # cached texts last, once every occurrence of the forgotten users is gone
        for schema, name, has_user_id, _, _, has_text_hash in tables:
            if has_text_hash and not has_user_id:
                sql.run(con, "forget_text_rows", identifiers={"table": (schema, name)},
                        table_name=f"{schema}.{name}")
        # the per-day counts of what the data offers, without the forgotten users' events
        signals.fill_event_signals(con, recount=True)
        sql.run(con, "record_forget", now=now)
        counts = sql.query(con, "select_forget_counts")
    hashes = dict(sql.query(con, "select_forget_id_hashes"))
    users = {u: Forgotten(u, hashes[u]) for u in ids}
    for user, table, n in counts:
        if n:
            users[user].rows[table] = n
    return ForgetReport(users=list(users.values()), forgotten_at=now, published=None)


def open_warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse read-write, which takes its file lock: refused while a run holds it."""
    path = path or settings.warehouse_path()
    if not path.exists():
        raise NoWarehouse(f"no warehouse at {path}: nothing to forget")
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseLocked(
            f"the warehouse {path} is locked: a Dagster run (or another command) holds it; "
            "forget again once it has finished") from None


def forget_users(user_ids: Iterable[str], *, warehouse: Path | None = None,
                 published: Path | None = None, compact: bool = False) -> ForgetReport:
    """Forget ``user_ids`` in the warehouse, then (lock still held) write the deletions to
    disk and republish the analysts' copy if there is one, so no copy still shows them.

    DuckDB marks deleted rows and reuses their blocks later: until then their bytes stay in
    the file. ``compact`` rewrites the warehouse into a fresh file (O(warehouse), so opt-in:
    batch a week's requests into one ``--file`` and compact once)."""
    from profiling_assets import profiles

    path = warehouse or settings.warehouse_path()
    published = published or settings.published_path()
    con = open_warehouse(path)
    tmp = path.with_name(f".{path.name}.forget.tmp")
    try:
        report = forget(con, user_ids)
        # out of the WAL and into the database file's current blocks
        sql.run(con, "checkpoint")
        if published.exists():
            # written whole: a copy of the previous file would keep the rows' bytes
            report.published = profiles.publish(con, published, rewrite=True)
        if compact:
            tmp.unlink(missing_ok=True)
            db = sql.query(con, "select_current_database")[0][0]
            sql.run(con, "compact_database", identifiers={"source": db},
                    literals={"path": str(tmp)})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    if compact:
        # a clean close leaves no WAL; one left over would be replayed onto the new file
        if path.with_name(path.name + ".wal").exists():
            tmp.unlink(missing_ok=True)
            raise ForgetError(f"{path}.wal is still there: not compacted (the forget itself "
                               "is done); run the forget with --compact again")
        os.replace(tmp, path)
        report.compacted = True
    return report


def read_id_file(path: Path) -> list[str]:
    """One user id per line; blank lines and lines starting with # are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
