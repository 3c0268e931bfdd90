"""Fuzz benchmark of the raw layer: hostile landing files of every supported format, and the
accounting the pipeline gives for them.

    .venv/bin/python bench/fuzz.py [--days 4] [--lines-per-file 15000] [--seed 3] [--keep DIR]

Writes ``--days`` days of landing files (JSONL, JSONL.gz, CSV, CSV.gz with ';', Parquet, plus
files that cannot be read: a truncated gzip, a corrupt and an empty Parquet file) full of
planted corruption, ingests each day with the real ``ingest_day`` and cleans it with
``clean_day``, then checks, file by file:

- no crash: every day ingests and cleans;
- lines read = accepted + rejected, from ``raw.ingest_files`` against the raw tables;
- the lines read equal the lines planted (physical lines; CSV records and refused lines);
- every valid line planted in a readable file is accepted, and every hostile one refused
  (a CSV whose quote is left open loses the lines after it, counted as csv_unrecoverable);
- every unreadable file is listed as failed, with an error naming it.

It prints the figures and a final line ``fuzz: <lines> hostile lines in <files> files ...``.
"""

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd

from profiling_assets.cleaning import CleaningConfig, clean_day
from profiling_assets.ingest import ingest_day


def event(rng: random.Random, day: str, i: int, **over) -> dict:
    d = {"event_id": f"{day}-{i}-{rng.randrange(10**9)}", "ts": f"{day}T{rng.randrange(24):02d}:"
         f"{rng.randrange(60):02d}:{rng.randrange(60):02d}Z", "user_id": f"U{rng.randrange(500)}",
         "session_id": f"S{rng.randrange(2000)}", "event_type": rng.choice(["view", "cart", "purchase"]),
         "product_id": f"P{rng.randrange(300)}", "price": round(rng.uniform(1, 200), 2),
         "quantity": rng.randrange(1, 4), "device": rng.choice(["mobile", "desktop"])}
    d.update(over)
    return d


# JSON-line corruptions: (name, make(rng, day, i) -> bytes line without newline, accepted?)
def _json(d: dict) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


JSONL_HOSTILE = [
    ("truncated object", lambda r, d, i: _json(event(r, d, i))[: r.randrange(5, 40)], False),
    ("array, not object", lambda r, d, i: b"[1, 2, 3]", False),
    ("bare string", lambda r, d, i: b'"just text"', False),
    ("empty line", lambda r, d, i: b"", False),
    ("whitespace line", lambda r, d, i: b"   \t ", False),
    ("invalid UTF-8", lambda r, d, i: b'{"event_id": "x\xff\xfe", "user_id": 1}', False),
    ("missing event_id", lambda r, d, i: _json({k: v for k, v in event(r, d, i).items() if k != "event_id"}), False),
    ("missing user_id", lambda r, d, i: _json(event(r, d, i, user_id=None)), False),
    ("NUL in user_id", lambda r, d, i: _json(event(r, d, i, user_id="a\u0000b")), False),
    ("newline in product_id", lambda r, d, i: _json(event(r, d, i, product_id="P\n1")), False),
    ("100,000-character id", lambda r, d, i: _json(event(r, d, i, user_id="x" * 100_000)), False),
    ("user_id true", lambda r, d, i: _json(event(r, d, i, user_id=True)), False),
    ("user_id array", lambda r, d, i: _json(event(r, d, i, user_id=[1, 2])), False),
    ("user_id object", lambda r, d, i: _json(event(r, d, i, user_id={"a": 1})), False),
    ("price object", lambda r, d, i: _json(event(r, d, i, price={"amount": 3})), False),
    ("timestamp without zone", lambda r, d, i: _json(event(r, d, i, ts=f"{d}T10:00:00")), False),
    ("garbage timestamp", lambda r, d, i: _json(event(r, d, i, ts="yesterday-ish")), False),
    ("price NaN text", lambda r, d, i: _json(event(r, d, i, price="NaN")), False),
    ("fractional quantity", lambda r, d, i: _json(event(r, d, i, quantity=1.5)), False),
    ("huge quantity", lambda r, d, i: _json(event(r, d, i, quantity=1e20)), False),
    ("unknown event type", lambda r, d, i: _json(event(r, d, i, event_type="click")), False),
    ("view without product", lambda r, d, i: _json(event(r, d, i, product_id=None)), False),
    ("deeply nested", lambda r, d, i: b'{"event_id": "n", "x": ' + b"[" * 500 + b"]" * 500 + b"}", False),
    # kept, and documented: a repeated key keeps its first value
    ("repeated key", lambda r, d, i: b'{"event_id": "dup-%d-%s", "ts": "%sT10:00:00Z", "user_id": "U1", '
     b'"user_id": "U2", "event_type": "view", "product_id": "P1"}' % (i, d.encode(), d.encode()), True),
    ("20 kB review", lambda r, d, i: _json(event(r, d, i, event_type="review", rating=5,
                                                review_text="great " * 3_400)), True),
    ("emoji and CJK query", lambda r, d, i: _json(event(r, d, i, event_type="search", product_id=None,
                                                       query="红色 鞋子 👟")), True),
]


def write_jsonl(path: Path, rng: random.Random, day: str, n: int, share: float) -> tuple[int, int, int]:
    """(lines planted, lines that must be accepted, hostile lines)."""
    lines, valid, hostile = [], 0, 0
    for i in range(n):
        if rng.random() < share:
            _, make, ok = rng.choice(JSONL_HOSTILE)
            lines.append(make(rng, day, i))
            valid += ok
            hostile += 1
        else:
            lines.append(_json(event(rng, day, i)))
            valid += 1
    data = b"\n".join(lines) + b"\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return n, valid, hostile


CSV_COLUMNS = ["event_id", "ts", "user_id", "session_id", "event_type", "product_id", "price", "quantity",
               "device"]


def csv_row(rng: random.Random, day: str, i: int, sep: str) -> str:
    e = event(rng, day, i)
    return sep.join(str(e[c]) for c in CSV_COLUMNS)


def write_csv(path: Path, rng: random.Random, day: str, n: int, share: float, *, sep: str = ",",
              open_quote_at: int | None = None, header: str | None = None) -> tuple[int, int, int]:
    """(records and refused lines the reader will count, valid records that must load,
    hostile records). Records after a quote left open are lost by design (csv_unrecoverable)."""
    rows, valid, hostile = [header or sep.join(CSV_COLUMNS)], 0, 0
    for i in range(n):
        e = event(rng, day, i)
        kind = rng.random()
        if open_quote_at is not None and i == open_quote_at:
            e["device"] = '"never closed'
        elif kind < share / 4:
            e["device"] += sep + "EXTRA" + sep + "MORE"  # too many fields
        elif kind < share / 2:
            rows.append(sep.join(["only", "three", "fields"]))  # too few
            hostile += 1
            continue
        elif kind < 3 * share / 4:
            e["user_id"] = "U\x00" + e["user_id"]  # NUL in an id
        elif kind < share:
            e["event_id"] = ""  # missing id
        else:
            valid += header is None and (open_quote_at is None or i < open_quote_at)
            rows.append(sep.join(str(e[c]) for c in CSV_COLUMNS))
            continue
        hostile += 1
        rows.append(sep.join(str(e[c]) for c in CSV_COLUMNS))
    text = "\r\n".join(rows) + "\r\n"  # Windows line ends
    data = ("\ufeff" + text).encode()  # and a byte-order mark
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return n, valid, hostile if header is None else n


def write_parquet(path: Path, rng: random.Random, day: str, n: int, share: float, *,
                  nested: bool = False) -> tuple[int, int, int]:
    rows, valid = [], 0
    for i in range(n):
        e = event(rng, day, i)
        if rng.random() < share:
            e[rng.choice(["event_id", "user_id", "ts"])] = None
        else:
            valid += 1
        rows.append(e)
    df = pd.DataFrame(rows)
    if nested:
        df["user_id"] = [[k, k + 1] for k in range(len(df))]
        valid = 0
    df.to_parquet(path, index=False)
    return n, valid, n - valid


def build(root: Path, days: list[str], per_file: int, seed: int) -> dict[str, dict]:
    """Writes the landing files; returns per file what must happen to it."""
    rng = random.Random(seed)
    plan: dict[str, dict] = {}
    for d_index, day in enumerate(days):
        folder = root / "landing" / "events" / f"dt={day}"
        folder.mkdir(parents=True)

        def add(name, result=None, unreadable=False, folder=folder, day=day):
            lines, valid, hostile = result or (0, 0, 0)
            plan[str(folder / name)] = {"day": day, "lines": lines, "valid": valid,
                                        "hostile": hostile, "unreadable": unreadable}
        add("a.jsonl", write_jsonl(folder / "a.jsonl", rng, day, per_file, 0.3))
        add("b.jsonl.gz", write_jsonl(folder / "b.jsonl.gz", rng, day, per_file, 0.3))
        add("c.csv", write_csv(folder / "c.csv", rng, day, per_file, 0.3,
                               open_quote_at=per_file // 2 if d_index == 0 else None))
        add("d.csv.gz", write_csv(folder / "d.csv.gz", rng, day, per_file, 0.3, sep=";"))
        add("e.parquet", write_parquet(folder / "e.parquet", rng, day, per_file, 0.3, nested=d_index == 1))
        if d_index == 0:
            add("f.csv", write_csv(folder / "f.csv", rng, day, 200, 0.0, header="id,when,who,what"))
        if d_index == 1:
            whole = gzip.compress(b"\n".join(_json(event(rng, day, i)) for i in range(per_file)) + b"\n")
            (folder / "g.jsonl.gz").write_bytes(whole[: len(whole) // 3])
            add("g.jsonl.gz", (0, 0, per_file), unreadable=True)
        if d_index == 2:
            (folder / "h.parquet").write_bytes(b"PAR1" + bytes(rng.randrange(256) for _ in range(4096)))
            add("h.parquet", unreadable=True)
        if d_index == 3:
            (folder / "i.parquet").write_bytes(b"")
            add("i.parquet", unreadable=True)
    products = root / "landing" / "products"
    products.mkdir(parents=True)
    (products / "products.csv").write_text("product_id,title,description,category,brand,price\n" + "".join(
        f"P{i},Item {i},An item,cat{i % 8},brand{i % 5},{10 + i % 90}\n" for i in range(300)))
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--lines-per-file", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write into this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="fuzz-"))
    if root.exists():
        shutil.rmtree(root)
    days = [f"2026-10-{d:02d}" for d in range(1, args.days + 1)]
    started = time.perf_counter()
    plan = build(root, days, args.lines_per_file, args.seed)
    print(f"wrote {len(plan)} files over {len(days)} days into {root} "
          f"({time.perf_counter() - started:.1f} s)")

    con = duckdb.connect(str(root / "fuzz.duckdb"))
    from profiling_assets.ingest import load_snapshot
    load_snapshot(con, "products", sorted((root / "landing" / "products").glob("*.csv")))
    crashes, reports = [], {}
    started = time.perf_counter()
    for day in days:
        try:
            report = ingest_day(con, day, root)
            reports.update({f.source_file: f for f in report.files})
            clean_day(con, day, CleaningConfig())
        except Exception as exc:  # noqa: BLE001 - a crash is what this benchmark counts
            crashes.append(f"{day}: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started

    rows = con.execute(
        "SELECT f.source_file, f.status, f.error, f.lines_read, "
        "(SELECT count(*) FROM raw.events e WHERE e.source_file = f.source_file), "
        "(SELECT count(*) FROM raw.events_rejected r WHERE r.source_file = f.source_file) "
        "FROM raw.ingest_files f ORDER BY 1").fetchall()
    problems = []
    reasons = Counter()
    for f, status, error, read, accepted, rejected in rows:
        want = plan.get(f)
        name = str(Path(f).relative_to(root / "landing" / "events"))
        if want is None:
            problems.append(f"{name}: not planted")
            continue
        if read != accepted + rejected:
            problems.append(f"{name}: read {read} != accepted {accepted} + rejected {rejected}")
        if want["unreadable"]:
            if status != "failed" or Path(f).name not in (error or ""):
                problems.append(f"{name}: unreadable but status {status}, error {error!r}")
            continue
        if status != "loaded":
            problems.append(f"{name}: readable but {status}: {error}")
        if read != want["lines"]:
            problems.append(f"{name}: read {read} lines, planted {want['lines']}")
        if accepted != want["valid"]:
            problems.append(f"{name}: accepted {accepted}, planted {want['valid']} valid")
        reasons.update(reports[f].rejected if f in reports else {})
    missing = sorted(set(plan) - {r[0] for r in rows})
    problems += [f"{Path(m).name}: never recorded" for m in missing]

    planted = sum(p["lines"] for p in plan.values())
    hostile = sum(p["hostile"] for p in plan.values())
    read = sum(r[3] for r in rows)
    accepted = sum(r[4] for r in rows)
    rejected = sum(r[5] for r in rows)
    failed = [(str(Path(r[0]).relative_to(root / "landing" / "events")), r[2]) for r in rows if r[1] == "failed"]
    print(f"files: {len(rows)} recorded of {len(plan)} planted; {len(failed)} unreadable:")
    for name, error in failed:
        print(f"  {name}: {error}")
    print(f"lines planted {planted:,} (hostile {hostile:,}); read {read:,} = accepted {accepted:,} "
          f"+ rejected {rejected:,}")
    print("rejected by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.most_common()))
    clean = con.execute("SELECT count(*) FROM clean.events").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM clean.events_quarantine").fetchone()[0]
    print(f"cleaned: {clean:,} clean events, {quarantined:,} quarantined; ingest + clean {seconds:.1f} s")
    for p in crashes + problems:
        print(f"PROBLEM {p}")
    print(f"fuzz: {hostile:,} hostile lines in {len(plan)} files ({len(failed)} unreadable), "
          f"{len(crashes)} crashes, {len(problems)} accounting problems")
    con.close()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if crashes or problems else 0)


if __name__ == "__main__":
    main()
