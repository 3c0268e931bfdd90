"""The demo generator: deterministic, exact about what it planted, and the planted structure
is really in the data it writes."""

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from profiling_assets import synthetic

START = date(2026, 10, 1)
DAYS = 9
EVENT_TYPES = {"view", "cart", "purchase", "search", "review", "return"}
ZONED_TS = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{3})?(Z|[+-]\d\d:?\d\d)$")
NEGATIVE_WORDS = re.compile(r"(?i)terrible|disappointed|poor|waste|flimsy|broke|unhelpful")
POSITIVE_WORDS = re.compile(r"(?i)love|excellent|great|happy|fantastic|perfectly")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_lines(root: Path, day: str) -> list[str]:
    path = root / "landing" / "events" / f"dt={day}" / "events.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts).astimezone(UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo")
    summary = synthetic.generate(root, users=400, products=80, days=DAYS, start=START, seed=11)
    return root, summary


@pytest.fixture(scope="module")
def truth(demo) -> pd.DataFrame:
    return pd.read_csv(demo[0] / "ground_truth" / "users.csv")


@pytest.fixture(scope="module")
def catalogue(demo) -> pd.DataFrame:
    return pd.read_csv(demo[0] / "landing" / "products" / "products.csv").set_index("product_id")


def classify(line: str, seen: set[str], day: str, bots: set[str], list_price: pd.Series) -> str:
    """What a line is, judged from its content alone (and the catalogue and bot list)."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return "malformed"
    if line in seen:
        return "duplicate"
    seen.add(line)
    if not event.get("user_id"):
        return "missing_user"
    if event["event_type"] not in EVENT_TYPES:
        return "unknown_type"
    if event["user_id"] in bots:
        return "bot_events"
    price = event.get("price")
    if price is not None and price < 0:
        return "negative_price"
    when = utc(event["ts"])
    if when.year >= 2099:
        return "future_ts"
    if when.date().isoformat() != day:
        return "wrong_day"
    if price is not None and price > 100 * list_price[event["product_id"]]:
        return "absurd_price"
    return "clean_events"


@pytest.fixture(scope="module")
def events(demo, truth, catalogue) -> pd.DataFrame:
    """Every line of the demo with what it is, and the parsed event where it parses."""
    root, summary = demo
    bots = set(truth.loc[truth["is_bot"], "user_id"])
    rows = []
    for day in summary["days"]:
        seen: set[str] = set()
        for line in read_lines(root, day["date"]):
            kind = classify(line, seen, day["date"], bots, catalogue["price"])
            event = json.loads(line) if kind != "malformed" else {}
            rows.append({**event, "kind": kind, "file_day": day["date"], "line": line})
    frame = pd.DataFrame(rows)
    ok = frame["kind"].isin(["clean_events", "bot_events"])
    frame.loc[ok, "utc"] = frame.loc[ok, "ts"].map(utc)
    return frame


def clean(events: pd.DataFrame) -> pd.DataFrame:
    return events[events["kind"] == "clean_events"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    kwargs = {"users": 80, "products": 40, "days": 2, "start": START}
    synthetic.generate(tmp_path / "a", seed=5, **kwargs)
    synthetic.generate(tmp_path / "b", seed=5, **kwargs)
    synthetic.generate(tmp_path / "c", seed=6, **kwargs)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert len(a) == 6  # 2 event files, users, products, truth users, summary
    assert all(a[k] != c[k] for k in a if k.startswith("landing"))


def test_summary_counts_equal_what_the_files_hold(demo, events):
    root, summary = demo
    assert json.loads((root / "ground_truth" / "summary.json").read_text()) == summary
    kinds = ["clean_events", *synthetic.DIRT_KINDS, "bot_events"]
    for day in summary["days"]:
        assert list(day) == ["date", "lines", *kinds]
        in_file = events[events["file_day"] == day["date"]]
        assert len(in_file) == day["lines"] == sum(day[k] for k in kinds)
        assert dict(Counter(in_file["kind"])) == {k: day[k] for k in kinds if day[k]}
    # every kind of dirt is planted somewhere in the window
    assert all(sum(d[k] for d in summary["days"]) > 0 for k in kinds)


def test_duplicates_copy_earlier_clean_human_lines(events):
    for _, day in events.groupby("file_day"):
        first_seen = {}
        for position, (line, kind) in enumerate(zip(day["line"], day["kind"])):
            if kind == "duplicate":
                assert line in first_seen
            else:
                first_seen.setdefault(line, kind)
        copied = {line for line, kind in zip(day["line"], day["kind"]) if kind == "duplicate"}
        assert {first_seen[line] for line in copied} <= {"clean_events"}


def test_dirt_comes_in_the_documented_forms(events):
    dirty = events[events["kind"].isin(synthetic.DIRT_KINDS)]
    missing = dirty[dirty["kind"] == "missing_user"]
    assert set(missing["user_id"].map(repr)) <= {"nan", "None", "''"}
    assert not set(dirty.loc[dirty["kind"] == "unknown_type", "event_type"]) & EVENT_TYPES
    malformed = dirty.loc[dirty["kind"] == "malformed", "line"]
    assert all(line.strip() for line in malformed)  # broken, never blank
    future = dirty.loc[dirty["kind"] == "future_ts", "ts"]
    assert all(utc(ts).year == 2099 for ts in future)
    # the dirt rows other than those are well-formed events with a zoned timestamp
    parsed = dirty[~dirty["kind"].isin(["malformed", "duplicate"])]
    assert parsed["ts"].str.match(ZONED_TS).all()


def test_valid_events_follow_the_contract(events, catalogue):
    valid = events[events["kind"].isin(["clean_events", "bot_events"])]
    assert valid["event_id"].is_unique
    assert valid["event_id"].str.match(r"^e\d{8}-\d{7}$").all()
    assert (valid["event_id"].str[1:9] == valid["file_day"].str.replace("-", "")).all()
    assert valid["user_id"].str.match(r"^U\d{6}$").all()
    assert valid["session_id"].str.match(r"^S\d{8}-\d{6}$").all()
    assert set(valid["device"]) == {"mobile", "desktop", "tablet", "app"}
    # every timestamp carries a zone and is an instant inside its file's UTC day
    assert valid["ts"].str.match(ZONED_TS).all()
    assert (valid["utc"].map(lambda t: t.date().isoformat()) == valid["file_day"]).all()
    spellings = Counter(
        "Z" if t.endswith("Z") else "ms" if "." in t else "space" if " " in t
        else "+00:00" if t.endswith("+00:00") else "colon" if t[-3] == ":" else "plain"
        for t in valid["ts"])
    assert set(spellings) == {"Z", "ms", "space", "colon", "plain"}

    searches = valid[valid["event_type"] == "search"]
    assert searches["product_id"].isna().all() and searches["price"].isna().all()
    assert searches["query"].str.len().gt(0).all()
    products = valid[valid["event_type"] != "search"]
    ratio = products["price"] / products["product_id"].map(catalogue["price"])
    assert ratio.between(0.69, 1.0).all()  # list price or a promotion
    goods = valid[valid["event_type"].isin(["cart", "purchase", "return"])]
    assert (goods["quantity"] >= 1).all()
    reviews = valid[valid["event_type"] == "review"]
    assert reviews["rating"].between(1, 5).all() and reviews["review_text"].str.len().gt(0).all()


def test_mostly_chronological(events):
    valid = events[events["kind"] == "clean_events"]
    for _, day in valid.groupby("file_day"):
        times = day["utc"].tolist()
        backwards = sum(b < a - timedelta(hours=1) for a, b in pairwise(times))
        assert backwards < 0.05 * len(times)


def test_archetypes_are_in_the_data(demo, events, truth, catalogue):
    root, _ = demo
    assert set(truth["archetype"]) == {*(a.name for a in synthetic.ARCHETYPES), "bot"}
    humans = clean(events).merge(truth, on="user_id")
    humans = humans.join(catalogue[["category", "price"]].rename(columns={"price": "list_price"}),
                         on="product_id")

    def count(kind: str) -> pd.Series:
        return humans[humans["event_type"] == kind].groupby("archetype").size()

    # funnel: window shoppers browse and rarely buy; loyal high spenders convert well
    conversion = count("purchase") / count("view")
    assert conversion["window_shopper"] < 0.2 * conversion["loyal_high_spender"]
    assert conversion["loyal_high_spender"] > 0.15

    # category specialists put almost all activity in one category
    spec = humans[(humans["archetype"] == "category_specialist") & humans["category"].notna()]
    top = spec.groupby("user_id")["category"].agg(lambda c: c.value_counts(normalize=True).iloc[0])
    busy = spec.groupby("user_id").size() >= 10
    assert top[busy].median() > 0.7
    others = humans[(humans["archetype"] == "window_shopper") & humans["category"].notna()]
    assert others.groupby("user_id")["category"].agg(
        lambda c: c.value_counts(normalize=True).iloc[0]).median() < 0.7

    # price sensitivity, relative to the category's median list price
    medians = catalogue.groupby("category")["price"].median()
    bought = humans[humans["event_type"] == "purchase"].copy()
    bought["relative"] = bought["list_price"] / bought["category"].map(medians)
    relative = bought.groupby("archetype")["relative"].mean()
    assert relative["bargain_hunter"] < 0.6 * relative["loyal_high_spender"]

    # lapsing users fade: the last third of the window is far quieter than the first
    day_index = (pd.to_datetime(humans["file_day"]) - pd.Timestamp(START)).dt.days
    lapsing = humans["archetype"] == "lapsing"
    first = (lapsing & (day_index < DAYS // 3)).sum()
    last = (lapsing & (day_index >= DAYS - DAYS // 3)).sum()
    assert last < 0.3 * first

    # nobody is active before signing up; new users sign up inside the window
    users = pd.read_csv(root / "landing" / "users" / "users.csv", parse_dates=["signup_date"])
    signup = humans["user_id"].map(users.set_index("user_id")["signup_date"])
    assert (pd.to_datetime(humans["file_day"]) >= signup).all()
    new = users["user_id"].isin(truth.loc[truth["archetype"] == "new_user", "user_id"])
    assert (users.loc[new, "signup_date"] > pd.Timestamp(START)).mean() > 0.8
    assert (users.loc[~new, "signup_date"] < pd.Timestamp(START)).all()

    # habits: each user's sessions cluster around their own hours
    hours = humans.groupby("user_id")["utc"].agg(lambda t: pd.Series([x.hour for x in t]).std())
    assert hours[humans.groupby("user_id").size() >= 20].median() < 6.0


def test_text_follows_intent_and_sentiment(events):
    humans = clean(events)
    reviews = humans[humans["event_type"] == "review"]
    assert len(reviews) > 30
    negative = reviews["review_text"].str.contains(NEGATIVE_WORDS)
    positive = reviews["review_text"].str.contains(POSITIVE_WORDS)
    low, mid, high = reviews["rating"] <= 2, reviews["rating"] == 3, reviews["rating"] >= 4
    assert (negative & ~positive)[low].all()
    assert (~negative & ~positive)[mid].all()
    assert (positive & ~negative)[high].all()
    assert low.any() and mid.any() and high.any()

    # a search speaks a category's vocabulary (a noun, perhaps misspelt, or just a brand)
    nouns = {n for spec in synthetic.CATEGORIES.values() for n in spec["nouns"]}
    brands = {b.lower() for spec in synthetic.CATEGORIES.values() for b in spec["brands"]}
    queries = humans.loc[humans["event_type"] == "search", "query"]
    brand_only = queries.isin(brands)
    exact = queries.map(lambda q: any(n in q for n in nouns))
    misspelt = queries.map(lambda q: any(synthetic._typo(n, k) in q for n in nouns for k in range(12)))
    assert (brand_only | exact | misspelt).all()
    assert 0.1 < brand_only.mean() < 0.3 and 0.05 < (misspelt & ~exact).mean() < 0.25


def test_catalogue_vocabulary_depends_on_category(catalogue):
    assert catalogue["category"].nunique() == len(synthetic.CATEGORIES) >= 8
    for product in catalogue.itertuples():
        spec = synthetic.CATEGORIES[product.category]
        assert product.brand in spec["brands"] and product.title.startswith(product.brand)
        assert any(noun in product.description for noun in spec["nouns"])
    assert catalogue.groupby("category")["brand"].nunique().min() >= 2
    assert (catalogue["price"] > 0).all()


def test_returns_follow_earlier_purchases(events):
    humans = clean(events)
    bought = humans[humans["event_type"] == "purchase"]
    returns = humans[humans["event_type"] == "return"]
    assert len(returns) > 0
    first_purchase = bought.groupby(["user_id", "product_id"])["utc"].min()
    for r in returns.itertuples():
        assert first_purchase[(r.user_id, r.product_id)] < r.utc


def test_bots_are_inhumanly_busy_and_humans_are_not(events, truth):
    valid = events[events["kind"].isin(["clean_events", "bot_events"])]
    bots = valid[valid["kind"] == "bot_events"]
    assert set(bots["user_id"]) == set(truth.loc[truth["is_bot"], "user_id"])
    assert (bots["event_type"] == "view").all()
    per_day = bots.groupby(["user_id", "file_day"]).size()
    assert len(per_day) == 2 * DAYS and per_day.between(1500, 3000).all()
    minute = valid["utc"].map(lambda t: t.replace(second=0, microsecond=0))
    per_minute = valid.assign(minute=minute).groupby(["kind", "user_id", "minute"]).size()
    assert per_minute["bot_events"].groupby("user_id").max().min() > 60
    # humans stay clear of the cleaning layer's bot rule (1000 a day or 60 a minute browsing)
    humans = valid[valid["kind"] == "clean_events"]
    browsing = humans[humans["event_type"].isin(["view", "search"])]
    assert browsing.groupby(["user_id", "file_day"]).size().max() < 1000
    assert per_minute["clean_events"].max() < 60


def test_registration_and_truth_files(demo, truth):
    root, _ = demo
    users = pd.read_csv(root / "landing" / "users" / "users.csv", keep_default_na=False)
    assert list(users.columns) == ["user_id", "signup_date", "age", "gender", "city", "email",
                                   "phone"]
    assert len(users) == 400 and users["user_id"].is_unique
    assert not set(users["user_id"]) & set(truth.loc[truth["is_bot"], "user_id"])
    assert set(users["gender"]) <= {"F", "M", "X", ""}
    assert users["email"].str.contains("@").all() and users["phone"].str.startswith("+").all()
    assert (users["age"] == "").any() and (users["age"] != "").mean() > 0.9

    assert list(truth.columns) == ["user_id", "archetype", "is_bot", "category_prefs",
                                   "leave_date"]
    assert len(truth) == 402 and truth["is_bot"].sum() == 2
    # every human has a leave day, from the window start (lapsing users: that very day) or,
    # for a new user, from signing up
    leave = pd.to_datetime(truth["leave_date"])
    assert leave[truth["is_bot"]].isna().all() and leave[~truth["is_bot"]].notna().all()
    assert (leave[truth["archetype"] == "lapsing"] == pd.Timestamp(START)).all()
    assert (leave[~truth["is_bot"]] >= pd.Timestamp(START)).all()
    signup = pd.to_datetime(truth["user_id"].map(users.set_index("user_id")["signup_date"]))
    new = truth["archetype"] == "new_user"
    assert (leave[new] >= signup[new]).all()
    prefs = truth.loc[~truth["is_bot"], "category_prefs"].map(
        lambda s: {k: float(v) for k, v in (p.split(":") for p in s.split("|"))})
    assert prefs.map(lambda p: set(p) == set(synthetic.CATEGORIES)).all()
    assert prefs.map(lambda p: abs(sum(p.values()) - 1) < 1e-3).all()
    assert prefs.map(lambda p: list(p.values()) == sorted(p.values(), reverse=True)).all()


def test_dirt_scaling():
    rates = synthetic.DirtRates()
    assert rates.scaled(2).duplicate == pytest.approx(0.02) and rates.scaled(2).bot_users == 4
    off = rates.scaled(0)
    assert all(v == 0 for v in vars(off).values())
    with pytest.raises(ValueError):
        rates.scaled(-1)


def test_clean_data_and_event_volume(tmp_path):
    summary = synthetic.generate(tmp_path, users=300, products=40, days=3, events_per_day=20_000,
                                 dirt=synthetic.DirtRates().scaled(0))
    for day in summary["days"]:
        assert 18_000 <= day["lines"] <= 22_000
        assert day["lines"] == day["clean_events"]


def test_generate_command_writes_every_format(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    synthetic.register_cli(parser.add_subparsers())
    for fmt in ("jsonl", "csv", "parquet"):
        args = parser.parse_args(["generate", "--data-dir", str(tmp_path / fmt), "--users", "100",
                                  "--products", "30", "--days", "2", "--seed", "3",
                                  "--format", fmt, "--dirt-scale", "5"])
        args.func(args)
        assert "2 days" in capsys.readouterr().out
        summary = json.loads((tmp_path / fmt / "ground_truth" / "summary.json").read_text())
        assert summary["params"]["format"] == fmt
        for day in summary["days"]:
            path = tmp_path / fmt / "landing" / "events" / f"dt={day['date']}" / f"events.{fmt}"
            if fmt == "jsonl":
                rows = path.read_text().splitlines()
                assert day["malformed"] == sum(not line.startswith('{"') for line in rows) + sum(
                    line.startswith('{"') and not line.endswith("}") for line in rows)
            else:
                rows = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
                assert day["malformed"] == 0  # broken JSON has no CSV/Parquet form
                assert day["duplicate"] == int(rows.duplicated().sum()) > 0
                assert day["missing_user"] == int(rows["user_id"].isna().sum()
                                                   + (rows["user_id"] == "").sum())
            assert len(rows) == day["lines"]


def test_generate_command_defaults_to_the_data_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILING_DATA_DIR", str(tmp_path / "configured"))
    parser = argparse.ArgumentParser()
    synthetic.register_cli(parser.add_subparsers())
    args = parser.parse_args(["generate", "--users", "20", "--products", "10", "--days", "1",
                              "--start", "2026-11-02", "--dirt-scale", "0"])
    args.func(args)
    day = tmp_path / "configured" / "landing" / "events" / "dt=2026-11-02"
    assert (day / "events.jsonl.gz").exists()


def active_days(root: Path) -> pd.DataFrame:
    """(user_id, day index) of every day on which a user has an event (clean data only)."""
    rows = set()
    for folder in sorted((root / "landing" / "events").iterdir()):
        day = (date.fromisoformat(folder.name[3:]) - START).days
        rows |= {(json.loads(line)["user_id"], day) for line in read_lines(root, folder.name[3:])}
    return pd.DataFrame(sorted(rows), columns=["user_id", "day"])


def test_users_leave_and_fade_out_after_their_leave_day(tmp_path):
    days = 60
    synthetic.generate(tmp_path, users=400, products=40, days=days, start=START, seed=4,
                       dirt=synthetic.DirtRates().scaled(0))
    truth = pd.read_csv(tmp_path / "ground_truth" / "users.csv").set_index("user_id")
    leave = (pd.to_datetime(truth["leave_date"]) - pd.Timestamp(START)).dt.days
    active = active_days(tmp_path)
    active["since_leave"] = active["day"] - active["user_id"].map(leave)
    humans = truth[~truth["is_bot"] & (truth["archetype"] != "lapsing")]

    # users who left early in the window are all but gone three weeks after their leave day
    left = humans.index[leave[humans.index] <= days // 2]
    assert len(left) >= 20
    later = active[active["user_id"].isin(left) & (active["since_leave"] >= 21)]
    user_days = sum(days - (leave[u] + 21) for u in left)
    assert len(later) < 0.1 * 0.5 * user_days  # under a tenth of a staying user's 0.5 a day
    # ... fading, not stopping at once: most are still seen after their leave day
    soon = active[active["user_id"].isin(left) & active["since_leave"].between(1, 7)]
    assert soon["user_id"].nunique() > 0.5 * len(left)

    # while users who stay keep shopping to the end of the window
    stay = humans.index[leave[humans.index] >= days]
    last_week = active[active["user_id"].isin(stay) & (active["day"] >= days - 7)]
    assert last_week["user_id"].nunique() > 0.9 * len(stay)
    assert len(last_week) > 0.4 * 7 * len(stay)

    # lapsing users leave from the window start, in days whatever the window's length
    lapsing = truth.index[truth["archetype"] == "lapsing"]
    seen = active[active["user_id"].isin(lapsing)].groupby("day").size()
    assert seen.get(0, 0) > 0.4 * len(lapsing) and seen.loc[20:].sum() < 0.05 * len(lapsing)


def test_leave_days_draw_from_their_own_stream(tmp_path, monkeypatch):
    """Drawing leave days left every other draw as it was: the snapshots, preferences and the
    first day (on which nobody has faded yet) do not depend on the lifetimes."""
    kwargs = {"users": 200, "products": 40, "days": 3, "start": START, "seed": 9, "fmt": "jsonl"}
    synthetic.generate(tmp_path / "a", **kwargs)
    monkeypatch.setitem(synthetic._A, "lifetime_days", synthetic._A["lifetime_days"] * 1000)
    synthetic.generate(tmp_path / "b", **kwargs)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    for path in ("landing/products/products.csv", "landing/users/users.csv",
                 "landing/events/dt=2026-10-01/events.jsonl"):
        assert a[path] == b[path]
    truth_a = pd.read_csv(tmp_path / "a" / "ground_truth" / "users.csv")
    truth_b = pd.read_csv(tmp_path / "b" / "ground_truth" / "users.csv")
    pd.testing.assert_frame_equal(truth_a.drop(columns="leave_date"),
                                  truth_b.drop(columns="leave_date"))
    humans = ~truth_a["is_bot"]
    later = pd.to_datetime(truth_b["leave_date"]) >= pd.to_datetime(truth_a["leave_date"])
    assert later[humans].all()


@pytest.mark.slow
def test_a_million_events_in_bounded_memory(tmp_path):
    script = (
        "import resource, time, sys\n"
        "from pathlib import Path\n"
        "from profiling_assets import synthetic\n"
        "t = time.perf_counter()\n"
        "s = synthetic.generate(Path(sys.argv[1]), users=100_000, products=20_000, days=1,\n"
        "                       events_per_day=1_000_000)\n"
        "d = s['days'][0]\n"
        "print(d['clean_events'] + d['bot_events'], time.perf_counter() - t,\n"
        "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True,
                         capture_output=True, text=True).stdout.split()
    events, seconds, peak_mib = int(out[0]), float(out[1]), float(out[2])
    assert 900_000 <= events <= 1_100_000
    assert events / seconds > 50_000
    assert peak_mib < 1024


def test_drift_moves_category_preferences_and_prices_from_its_day_on(tmp_path):
    kwargs = {"users": 400, "products": 80, "days": 4, "start": START, "seed": 2}
    plain, drifted = tmp_path / "plain", tmp_path / "drifted"
    synthetic.generate(plain, **kwargs)
    summary = synthetic.generate(drifted, **kwargs, drift_from=START + timedelta(days=2))
    assert summary["params"]["drift_from"] == "2026-10-03"
    # days before the drift are byte for byte the undrifted days
    for day in ("2026-10-01", "2026-10-02"):
        assert read_lines(plain, day) == read_lines(drifted, day)

    truth = pd.read_csv(drifted / "ground_truth" / "users.csv")
    favourite = dict(zip(truth["user_id"], truth["category_prefs"].str.split(":").str[0], strict=True))
    products = pd.read_csv(drifted / "landing" / "products" / "products.csv").set_index("product_id")

    def behaviour(root: Path, day: str) -> tuple[float, float]:
        rows = []
        for line in read_lines(root, day):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if (isinstance(event, dict) and event.get("event_type") == "view"
                    and event.get("user_id") in favourite and event.get("product_id") in products.index):
                rows.append(event)
        views = pd.DataFrame(rows)
        category = products.loc[views["product_id"], "category"].to_numpy()
        on_favourite = (category == views["user_id"].map(favourite).to_numpy()).mean()
        median = products.groupby("category")["price"].median()
        ratio = (products.loc[views["product_id"], "price"].to_numpy() / median[category].to_numpy())
        return on_favourite, ratio.mean()

    before, after = behaviour(drifted, "2026-10-02"), behaviour(drifted, "2026-10-03")
    undrifted = behaviour(plain, "2026-10-03")
    assert after[0] < undrifted[0] / 2 < before[0]      # favourite categories lose their share
    assert after[1] > 1.05 * undrifted[1]               # dearer products within each category


# --------------------------------------------------------------------------- orders profile

ORDERS_START = date(2025, 11, 17)  # eight weeks over Christmas: Saturdays and the closure
ORDERS_DAYS = 56
ORDERS_USERS = 200
CLOSED_SEASON = {(12, d) for d in range(24, 32)} | {(1, 1)}


def read_order_days(root: Path) -> pd.DataFrame:
    """Every line of an orders generation, as text, with its folder's day."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False).assign(file_day=path.parent.name[3:])
              for path in sorted((root / "landing" / "events").glob("dt=*/events.csv"))]
    lines = pd.concat(frames, ignore_index=True)
    lines["utc"] = pd.to_datetime(lines["ts"], utc=True)
    return lines


@pytest.fixture(scope="module")
def orders(tmp_path_factory) -> tuple[Path, dict, pd.DataFrame]:
    root = tmp_path_factory.mktemp("orders")
    summary = synthetic.generate_orders(root, users=ORDERS_USERS, products=150, days=ORDERS_DAYS,
                                        start=ORDERS_START, seed=3)
    return root, summary, read_order_days(root)


def purchases_by_customer(lines: pd.DataFrame) -> pd.DataFrame:
    """Customers' purchase lines with the rank of their invoice among the customer's invoices."""
    bought = lines[(lines["event_type"] == "purchase") & (lines["user_id"] != "")].copy()
    invoices = bought.groupby("session_id").agg(user_id=("user_id", "first"), utc=("utc", "first"))
    rank = invoices.sort_values(["utc", "session_id"]).groupby("user_id").cumcount()
    bought["invoice_rank"] = bought["session_id"].map(rank)
    return bought


def test_orders_are_invoice_lines_in_the_contract(orders):
    root, summary, lines = orders
    assert set(lines["event_type"]) == {"purchase", "return"}
    assert list(lines.columns[:12]) == list(synthetic.COLUMNS)
    assert (lines[["query", "review_text", "rating", "device"]] == "").all().all()
    assert lines["event_id"].is_unique
    # one invoice = one session: its number, customer and minute on every line
    parts = lines["event_id"].str.extract(r"^INV(C?\d+)-(\d+)$")
    assert (parts[0] == lines["session_id"]).all()
    credit = lines["session_id"].str.startswith("C")
    assert (credit == (lines["event_type"] == "return")).all()
    per_invoice = lines.groupby("session_id")[["user_id", "ts"]].nunique()
    assert (per_invoice == 1).all().all()
    assert lines.groupby("session_id").size().max() > 10  # wholesale invoices are long
    # local London time with its offset, on the same UTC day as the folder, opening hours
    assert lines["ts"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00\+0[01]:00$").all()
    assert (lines["utc"].dt.strftime("%Y-%m-%d") == lines["file_day"]).all()
    local_hour = lines["ts"].str[11:13].astype(int)
    assert local_hour.between(8, 17).all()
    assert (lines["quantity"].astype(int) >= 1).all() and (lines["price"].astype(float) > 0).all()
    assert lines["user_id"].str.fullmatch(r"\d{5}|").all()  # digit strings or empty

    # the ground truth counts what the files hold, day by day
    assert json.loads((root / "ground_truth" / "summary.json").read_text()) == summary
    assert summary["params"]["profile"] == "orders"
    for day in summary["days"]:
        in_file = lines[lines["file_day"] == day["date"]]
        assert len(in_file) == day["lines"] == day["purchases"] + day["returns"]
        assert (in_file["event_type"] == "return").sum() == day["returns"]
        assert (in_file["user_id"] == "").sum() == day["missing_user"]
        assert in_file["session_id"].nunique() == day["invoices"] + day["credit_notes"]
    # ~2% of lines without a customer, ~0.4 lines per customer and trading day
    assert 0.005 < (lines["user_id"] == "").mean() < 0.05
    per_day = len(lines) / len(summary["days"])
    assert 0.7 * 0.4 * ORDERS_USERS < per_day < 1.3 * 0.4 * ORDERS_USERS


def test_orders_closed_days_have_no_landing_folder(orders):
    root, summary, _ = orders
    calendar = [ORDERS_START + timedelta(days=i) for i in range(ORDERS_DAYS)]
    closed = {d.isoformat() for d in calendar
              if d.weekday() == 5 or (d.month, d.day) in CLOSED_SEASON}
    folders = {p.name[3:] for p in (root / "landing" / "events").iterdir()}
    assert summary["closed_days"] == sorted(closed)
    assert folders == {d["date"] for d in summary["days"]} == {d.isoformat() for d in calendar} - closed
    assert len(closed) == 8 + 8  # eight Saturdays (two in the closure) and Dec 24 - Jan 1


def test_orders_catalogue_and_registrations_are_sparse(orders):
    root, _, lines = orders
    products = pd.read_csv(root / "landing" / "products" / "products.csv", dtype=str,
                           keep_default_na=False)
    assert list(products.columns) == ["product_id", "title", "description", "category", "brand",
                                      "price"]
    assert len(products) == 150 and products["product_id"].is_unique
    assert (products["category"] == "").all() and (products["brand"] == "").all()
    assert products["product_id"].str.fullmatch(r"\d{5}[A-D]?").all()
    assert products["product_id"].str.endswith(("A", "B", "C", "D")).any()
    assert (products["title"] == products["title"].str.upper()).all()
    assert (products["price"].astype(float) > 0).all()
    assert set(lines["product_id"]) <= set(products["product_id"])

    users = pd.read_csv(root / "landing" / "users" / "users.csv", dtype=str, keep_default_na=False)
    assert list(users.columns) == ["user_id", "signup_date", "age", "gender", "city", "email",
                                   "phone"]
    assert 0 < len(users) < 0.25 * ORDERS_USERS  # only a minority registered
    assert users["user_id"].str.fullmatch(r"\d{5}").all()
    assert (users[["age", "gender", "city", "email", "phone"]] == "").all().all()
    assert pd.to_datetime(users["signup_date"]).notna().all()


def test_orders_customers_reorder_in_their_kind_of_quantities(orders):
    root, _, lines = orders
    bought = purchases_by_customer(lines).sort_values("utc")
    first_seen = bought.groupby(["user_id", "product_id"])["utc"].transform("min")
    later = bought["invoice_rank"] > 0
    assert later.sum() > 300
    assert (first_seen[later] < bought.loc[later, "utc"]).mean() > 0.5  # mostly re-orders
    # a customer never has the same product twice on one invoice
    assert not bought.duplicated(["session_id", "product_id"]).any()

    truth = pd.read_csv(root / "ground_truth" / "users.csv", dtype=str).set_index("user_id")
    assert set(truth["archetype"]) == {"wholesale", "retail"}
    kind = bought["user_id"].map(truth["archetype"])
    quantity = bought["quantity"].astype(int)
    assert quantity[kind == "wholesale"].between(12, 144).all()
    assert quantity[kind == "retail"].between(1, 6).all()
    lines_per_invoice = bought.groupby("session_id").size().groupby(
        bought.groupby("session_id")["user_id"].first().map(truth["archetype"])).mean()
    assert lines_per_invoice["wholesale"] > 3 * lines_per_invoice["retail"]


def test_orders_returns_follow_earlier_purchases(orders):
    _, _, lines = orders
    bought = purchases_by_customer(lines)
    returns = lines[lines["event_type"] == "return"]
    assert len(returns) > 20
    assert (returns["user_id"] != "").all()
    for r in returns.itertuples():
        earlier = bought[(bought["user_id"] == r.user_id) & (bought["product_id"] == r.product_id)
                         & (bought["utc"] < r.utc - timedelta(days=2))]
        assert len(earlier) and r.price in set(earlier["price"])
        assert int(r.quantity) <= earlier["quantity"].astype(int).max()


def test_orders_same_seed_same_bytes(tmp_path):
    kwargs = {"users": 60, "products": 40, "days": 10, "start": date(2026, 3, 2)}
    synthetic.generate_orders(tmp_path / "a", seed=5, **kwargs)
    synthetic.generate_orders(tmp_path / "b", seed=5, **kwargs)
    synthetic.generate_orders(tmp_path / "c", seed=6, **kwargs)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert len(a) == 9 + 4  # 9 trading days, users, products, truth users, summary
    assert all(a[k] != c[k] for k in a if k.startswith("landing"))


def test_orders_closed_weekdays_and_summer_time(tmp_path):
    # the clocks go back on Sunday 2025-10-26; with Sundays closed, Saturday opens
    summary = synthetic.generate_orders(tmp_path, users=80, products=40, days=14,
                                        start=date(2025, 10, 20), closed_weekdays="sun")
    assert summary["closed_days"] == ["2025-10-26", "2025-11-02"]
    assert summary["params"]["closed_weekdays"] == ["sun"]
    lines = read_order_days(tmp_path)
    summer = lines["file_day"] < "2025-10-26"
    assert lines.loc[summer, "ts"].str.endswith("+01:00").all()
    assert lines.loc[~summer, "ts"].str.endswith("+00:00").all()
    assert (tmp_path / "landing" / "events" / "dt=2025-10-25").is_dir()  # a Saturday


def test_orders_day_passes_raw_ingest_with_guests_refused(orders, tmp_path):
    import duckdb

    from profiling_assets.ingest import ingest_day

    root, summary, _ = orders
    day = max(summary["days"], key=lambda d: d["missing_user"])
    assert day["missing_user"] > 0
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        report = ingest_day(con, day["date"], root)
    assert report.lines_read == day["lines"]
    assert report.accepted == day["lines"] - day["missing_user"]
    assert dict(report.rejected_by_reason) == {"missing_user_id": day["missing_user"]}


def test_generate_command_orders_profile(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    synthetic.register_cli(parser.add_subparsers())
    out = tmp_path / "orders"
    args = parser.parse_args(["generate", "--profile", "orders", "--data-dir", str(out),
                              "--users", "50", "--products", "30", "--days", "7",
                              "--start", "2026-06-01", "--closed-weekdays", "sat,sun",
                              "--events-per-day", "200"])
    args.func(args)
    assert "5 trading days (2 closed)" in capsys.readouterr().out
    summary = json.loads((out / "ground_truth" / "summary.json").read_text())
    assert summary["params"]["format"] == "csv" and summary["params"]["events_per_day"] == 200
    assert sorted(p.name for p in (out / "landing" / "events").iterdir()) == [
        f"dt=2026-06-0{d}" for d in range(1, 6)]
    assert all((out / "landing" / "events" / f"dt=2026-06-0{d}" / "events.csv").exists()
               for d in range(1, 6))
    assert 100 < sum(d["lines"] for d in summary["days"]) / 5 < 300

    # options of the other profile are refused with a message, not ignored
    for extra in (["--profile", "orders", "--dirt-scale", "0"],
                  ["--profile", "orders", "--drift-from", "2026-06-02"],
                  ["--closed-weekdays", "sat"],
                  ["--profile", "orders", "--closed-weekdays", "caturday"]):
        args = parser.parse_args(["generate", "--data-dir", str(tmp_path / "x"), *extra])
        with pytest.raises(SystemExit, match="generate: "):
            args.func(args)
    assert not (tmp_path / "x").exists()
