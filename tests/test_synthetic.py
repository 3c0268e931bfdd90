"""The demo generator: deterministic, honest about what it planted, and the planted structure is
really in the data."""

import argparse
import gzip
import hashlib
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from profiling_assets import synthetic

START = date(2026, 10, 1)
DAYS = 9


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo")
    summary = synthetic.generate(root, users=600, products=120, days=DAYS, start=START, seed=11)
    return root, summary


def read_day(root: Path, day: str) -> list[str]:
    with gzip.open(root / "landing" / "events" / f"dt={day}" / "events.jsonl.gz", "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture(scope="module")
def events(demo) -> pd.DataFrame:
    """Every parseable, well-formed event of the demo with its UTC time and file day."""
    root, summary = demo
    rows = []
    for day in summary["days"]:
        for line in read_day(root, day["date"]):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("user_id") and event["event_type"] in synthetic_types():
                event["utc"] = parse_ts(event["ts"])
                event["file_day"] = day["date"]
                rows.append(event)
    return pd.DataFrame(rows)


def synthetic_types() -> set[str]:
    return {"view", "cart", "purchase", "search", "review", "return"}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    kwargs = {"users": 80, "products": 40, "days": 2, "start": START}
    synthetic.generate(tmp_path / "a", seed=5, **kwargs)
    synthetic.generate(tmp_path / "b", seed=5, **kwargs)
    synthetic.generate(tmp_path / "c", seed=6, **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_summary_counts_equal_what_the_files_hold(demo):
    root, summary = demo
    list_price = pd.read_csv(root / "landing" / "products" / "products.csv").set_index("product_id")["price"]
    for day in summary["days"]:
        lines = read_day(root, day["date"])
        found: Counter = Counter()
        seen = set()
        day_start = datetime.fromisoformat(day["date"]).replace(tzinfo=UTC)
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                found["malformed"] += 1
                continue
            if line in seen:
                found["duplicate"] += 1
                continue
            seen.add(line)
            price = event.get("price")
            if not event.get("user_id"):
                found["missing_user"] += 1
            elif event["event_type"] not in synthetic_types():
                found["unknown_type"] += 1
            elif event["user_id"].startswith("BOT"):
                found["bot_events"] += 1
            elif price is not None and price < 0:
                found["negative_price"] += 1
            elif parse_ts(event["ts"]).year == 2099:
                found["future_ts"] += 1
            elif parse_ts(event["ts"]) < day_start:
                found["wrong_day"] += 1
            elif price is not None and price > 100 * list_price[event["product_id"]]:
                found["absurd_price"] += 1
            else:
                found["clean_events"] += 1
        assert len(lines) == day["lines"]
        assert dict(found) == {k: v for k, v in day.items() if k not in ("date", "lines") and v}


def test_valid_timestamps_lie_in_their_file_day_in_mixed_spellings(events):
    valid = events[~events["user_id"].str.startswith("BOT") & (events["utc"].dt.year < 2099)]
    in_day = valid["utc"].dt.strftime("%Y-%m-%d") == valid["file_day"]
    # only the planted wrong-day events fall outside
    assert (~in_day).sum() < 0.01 * len(valid)
    spellings = Counter("Z" if t.endswith("Z") else t[-6:] if t[-3] == ":" else t[-5:] for t in valid["ts"])
    assert len(spellings) >= 5


def test_planted_structure_is_in_the_data(demo, events):
    root, _ = demo
    truth = pd.read_csv(root / "ground_truth" / "users.csv")
    assert set(truth["archetype"]) >= {"loyal_high_spender", "bargain_hunter", "window_shopper", "new_user",
                                       "lapsing", "category_specialist", "bot"}
    products = pd.read_csv(root / "landing" / "products" / "products.csv")
    humans = events[~events["user_id"].str.startswith("BOT")].merge(truth, on="user_id")
    humans = humans.merge(products[["product_id", "category", "price"]].rename(columns={"price": "list_price"}),
                          on="product_id", how="left")

    def per_archetype(df: pd.DataFrame, kind: str) -> pd.Series:
        return df[df["event_type"] == kind].groupby("archetype").size()

    conversion = per_archetype(humans, "purchase") / per_archetype(humans, "view")
    assert conversion["window_shopper"] < 0.3 * conversion["loyal_high_spender"]

    # category specialists put most of their activity in one category
    spec = humans[(humans["archetype"] == "category_specialist") & humans["category"].notna()]
    top_share = spec.groupby("user_id")["category"].agg(lambda c: c.value_counts(normalize=True).iloc[0])
    assert top_share[spec.groupby("user_id").size() >= 10].median() > 0.7

    # bargain hunters buy cheaper than high spenders, relative to the category median
    bought = humans[humans["event_type"] == "purchase"].copy()
    medians = products.groupby("category")["price"].median()
    bought["relative"] = bought["list_price"] / bought["category"].map(medians)
    relative = bought.groupby("archetype")["relative"].mean()
    assert relative["bargain_hunter"] < 0.6 * relative["loyal_high_spender"]

    # lapsing users fade: the last third of the window is far quieter than the first
    humans["day_index"] = (pd.to_datetime(humans["file_day"]) - pd.Timestamp(START)).dt.days
    lapsing = humans[humans["archetype"] == "lapsing"]
    first = (lapsing["day_index"] < DAYS // 3).sum()
    last = (lapsing["day_index"] >= DAYS - DAYS // 3).sum()
    assert last < 0.35 * first

    # new users are never active before they sign up
    users = pd.read_csv(root / "landing" / "users" / "users.csv", parse_dates=["signup_date"])
    with_signup = humans.merge(users[["user_id", "signup_date"]], on="user_id")
    assert (with_signup["utc"].dt.tz_localize(None).dt.normalize() >= with_signup["signup_date"]).all()

    # review sentiment follows the rating
    reviews = humans[humans["event_type"] == "review"]
    negative_words = reviews["review_text"].str.contains("Terrible|disappointed|Awful|Waste|flimsy")
    assert negative_words[reviews["rating"] <= 2].all()
    assert not negative_words[reviews["rating"] >= 4].any()

    # searches speak the vocabulary of a category
    vocabulary = {w for spec in synthetic.CATEGORIES.values() for w in spec["nouns"]}
    queries = humans.loc[humans["event_type"] == "search", "query"]
    assert queries.map(lambda q: any(n in q for n in vocabulary)).all()


def test_bots_are_inhumanly_busy(events):
    bots = events[events["user_id"].str.startswith("BOT")]
    per_day = bots.groupby(["user_id", "file_day"]).size()
    assert per_day.min() >= 1500
    humans = events[~events["user_id"].str.startswith("BOT")].groupby(["user_id", "file_day"]).size()
    assert humans.max() < 300


def test_pii_and_truth_files(demo):
    root, summary = demo
    users = pd.read_csv(root / "landing" / "users" / "users.csv")
    assert {"email", "phone", "signup_date", "age", "gender", "city"} <= set(users.columns)
    assert users["user_id"].is_unique and len(users) == 600
    assert json.loads((root / "ground_truth" / "summary.json").read_text())["days"] == summary["days"]


def test_generate_command_and_other_formats(tmp_path):
    parser = argparse.ArgumentParser()
    synthetic.register_cli(parser.add_subparsers())
    for fmt in ("csv", "parquet"):
        args = parser.parse_args(["generate", "--data-dir", str(tmp_path / fmt), "--users", "50",
                                  "--products", "30", "--days", "1", "--format", fmt, "--dirt-scale", "2"])
        args.func(args)
        day = json.loads((tmp_path / fmt / "ground_truth" / "summary.json").read_text())["days"][0]
        assert day["malformed"] == 0 and day["duplicate"] == 0  # not representable in these formats
        path = tmp_path / fmt / "landing" / "events" / "dt=2026-10-01" / f"events.{fmt}"
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        assert len(frame) == day["lines"]


def test_events_per_day_scales_volume(tmp_path):
    summary = synthetic.generate(tmp_path, users=300, products=40, days=2, events_per_day=20_000,
                                 dirt=synthetic.DirtRates(bot_users=0))
    per_day = [d["lines"] for d in summary["days"]]
    assert all(16_000 < n < 24_000 for n in per_day), per_day
