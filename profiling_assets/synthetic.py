"""Demo data: users with planted archetypes, a catalogue, daily event logs with planted dirt.

The generator is the project's built-in data source. It is deterministic for a seed (same
arguments, same bytes), streams each day to disk as it goes (memory does not grow with the
number of events), and writes what it planted to ``ground_truth/``, which the pipeline never
reads: user archetypes and category preferences for evaluating segments, and the exact count
of every kind of dirt per day for testing the ingest layer.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

CATEGORIES: dict[str, dict[str, Any]] = {
    "electronics": {
        "nouns": ["headphones", "speaker", "charger", "smartwatch", "keyboard", "monitor", "tablet", "camera"],
        "adjectives": ["wireless", "bluetooth", "noise cancelling", "portable", "4k", "smart",
                       "fast charging", "ergonomic"],
        "brands": ["Sonora", "Voltix", "Pixelon", "Kadence"],
        "features": ["long battery life", "crisp sound", "a bright display", "quick pairing"],
        "price": (4.4, 0.6),
    },
    "books": {
        "nouns": ["novel", "cookbook", "biography", "thriller", "travel guide", "atlas", "poetry collection",
                  "graphic novel"],
        "adjectives": ["bestselling", "illustrated", "hardcover", "paperback", "classic", "award winning",
                       "signed", "annotated"],
        "brands": ["Penwick Press", "Lantern Books", "Orchard House", "Quillstone"],
        "features": ["a gripping plot", "beautiful illustrations", "clear recipes", "vivid characters"],
        "price": (2.8, 0.4),
    },
    "fashion": {
        "nouns": ["sneakers", "jacket", "dress", "jeans", "scarf", "handbag", "boots", "t-shirt"],
        "adjectives": ["leather", "slim fit", "waterproof", "cotton", "vintage", "oversized", "summer", "wool"],
        "brands": ["Northline", "Velda", "Marlow & Co", "Urbano"],
        "features": ["a flattering cut", "soft fabric", "sturdy stitching", "a timeless look"],
        "price": (3.8, 0.5),
    },
    "home_kitchen": {
        "nouns": ["blender", "frying pan", "coffee maker", "knife set", "duvet", "desk lamp", "storage box",
                  "kettle"],
        "adjectives": ["stainless steel", "non-stick", "ceramic", "energy efficient", "compact", "cast iron",
                       "bamboo", "cordless"],
        "brands": ["Hearthly", "Casaro", "Kitchwell", "Domus"],
        "features": ["easy cleaning", "even heating", "a space saving design", "quiet operation"],
        "price": (3.7, 0.6),
    },
    "beauty": {
        "nouns": ["moisturizer", "lipstick", "shampoo", "serum", "perfume", "face mask", "sunscreen",
                  "nail polish"],
        "adjectives": ["hydrating", "organic", "matte", "vitamin c", "fragrance free", "long lasting",
                       "spf 50", "vegan"],
        "brands": ["Lumea", "Rosabel", "Purelle", "Aurae"],
        "features": ["a light texture", "a subtle scent", "gentle ingredients", "lasting colour"],
        "price": (3.0, 0.5),
    },
    "sports": {
        "nouns": ["yoga mat", "running shoes", "dumbbells", "bike helmet", "tennis racket", "water bottle",
                  "fitness tracker", "hiking backpack"],
        "adjectives": ["lightweight", "breathable", "adjustable", "anti slip", "insulated", "professional",
                       "foldable", "reflective"],
        "brands": ["Stridex", "Peakform", "Aerolite", "Vantor"],
        "features": ["solid grip", "great cushioning", "durable materials", "an accurate sensor"],
        "price": (3.6, 0.6),
    },
    "toys": {
        "nouns": ["building blocks", "jigsaw puzzle", "doll", "board game", "remote control car", "plush bear",
                  "train set", "science kit"],
        "adjectives": ["educational", "colorful", "wooden", "interactive", "battery powered", "family",
                       "creative", "classic"],
        "brands": ["Tinkertown", "Joybox", "Playmo", "Brightkid"],
        "features": ["hours of fun", "safe materials", "clever design", "easy assembly"],
        "price": (3.1, 0.5),
    },
    "grocery": {
        "nouns": ["coffee beans", "olive oil", "green tea", "pasta", "dark chocolate", "honey", "granola",
                  "spice mix"],
        "adjectives": ["organic", "fair trade", "extra virgin", "gluten free", "roasted", "artisan",
                       "wholegrain", "premium"],
        "brands": ["Farmstead", "Goldleaf", "Verdana Foods", "Mill & Co"],
        "features": ["rich flavour", "fresh aroma", "a smooth finish", "natural ingredients"],
        "price": (2.2, 0.5),
    },
}
CATEGORY_NAMES = list(CATEGORIES)

POSITIVE = ["Absolutely love this {noun}", "Excellent {noun}, works perfectly", "Great quality, highly recommend",
            "Fantastic value and fast delivery", "Best {noun} I have bought, very happy"]
MIXED = ["The {noun} is okay, nothing special", "Decent {noun} but a bit overpriced",
         "Average quality, does the job", "Fine overall, delivery was slow"]
NEGATIVE = ["Terrible {noun}, broke after a week", "Very disappointed, poor quality",
            "Awful, would not recommend this {noun}", "Waste of money, returning it",
            "Cheap and flimsy {noun}, stopped working"]

CITIES = ["London", "Manchester", "Paris", "Lyon", "Berlin", "Madrid", "Rome", "Amsterdam", "Dublin", "Lisbon",
          "Warsaw", "Vienna"]
DEVICES = ["mobile", "desktop", "tablet", "app"]
OFFSETS = [(5, 30), (2, 0), (-7, 0), (9, 0), (-3, 0), (1, 0)]  # hours, minutes east of UTC


@dataclass(frozen=True)
class Archetype:
    name: str
    share: float             # of registered users
    p_active: float          # chance of at least one session on a day
    sessions: float          # mean sessions on an active day
    views: float             # mean product views per session
    p_search: float          # chance a session starts with a search
    p_cart: float            # view -> cart
    p_buy: float             # cart -> purchase
    price_pos: float         # preferred position in a category's price range, 0 cheap .. 1 dear
    concentration: float     # Dirichlet alpha of category preferences (small = focused)
    hour: float              # peak hour of day (UTC)


ARCHETYPES = [
    Archetype("loyal_high_spender", 0.16, 0.60, 1.6, 4.0, 0.25, 0.45, 0.75, 0.88, 1.2, 20.0),
    Archetype("bargain_hunter", 0.18, 0.45, 1.3, 6.0, 0.55, 0.30, 0.45, 0.10, 1.0, 12.0),
    Archetype("window_shopper", 0.18, 0.50, 1.4, 7.0, 0.30, 0.06, 0.12, 0.50, 0.8, 22.0),
    Archetype("new_user", 0.16, 0.55, 1.2, 4.0, 0.40, 0.25, 0.45, 0.45, 1.0, 18.0),
    Archetype("lapsing", 0.16, 0.70, 1.3, 4.5, 0.30, 0.30, 0.55, 0.55, 1.0, 9.0),
    Archetype("category_specialist", 0.16, 0.50, 1.4, 5.0, 0.35, 0.35, 0.60, 0.62, 0.0, 14.0),
]
ARCHETYPE_BY_NAME = {a.name: a for a in ARCHETYPES}


@dataclass(frozen=True)
class DirtRates:
    """Planted dirt per clean event of a day (bot_users: how many bot users)."""

    duplicate: float = 0.01
    malformed: float = 0.002
    missing_user: float = 0.002
    unknown_type: float = 0.002
    negative_price: float = 0.001
    absurd_price: float = 0.001
    future_ts: float = 0.001
    wrong_day: float = 0.002
    bot_users: int = 2

    def scaled(self, factor: float) -> DirtRates:
        rates = {k: v * factor for k, v in asdict(self).items() if k != "bot_users"}
        return replace(self, **rates, bot_users=round(self.bot_users * factor))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
DIRT_KINDS = ["duplicate", "malformed", "missing_user", "unknown_type", "negative_price", "absurd_price",
              "future_ts", "wrong_day"]
PRICED_DIRT = {"negative_price", "absurd_price"}


@dataclass
class Product:
    product_id: str
    category: str
    brand: str
    title: str
    description: str
    price: float


@dataclass
class User:
    user_id: str
    archetype: Archetype
    signup: date
    first_active_day: int      # index of the first day with activity (new users sign up mid-window)
    prefs: list[float]         # category preference weights, CATEGORY_NAMES order
    price_pos: float
    favourite_brand: dict[str, str]
    hour: float
    device: str


def _make_products(rng: random.Random, n: int) -> tuple[list[Product], dict[str, list[Product]]]:
    products = []
    for i in range(n):
        category = CATEGORY_NAMES[i % len(CATEGORY_NAMES)]  # every category gets products
        spec = CATEGORIES[category]
        brand = rng.choice(spec["brands"])
        noun, adj = rng.choice(spec["nouns"]), rng.choice(spec["adjectives"])
        price = round(math.exp(rng.gauss(*spec["price"])), 2)
        title = f"{brand} {adj} {noun}".title()
        description = (f"A {adj} {noun} from {brand} with {rng.choice(spec['features'])} "
                       f"and {rng.choice(spec['features'])}. {rng.choice(spec['adjectives']).capitalize()} "
                       f"and {rng.choice(spec['adjectives'])}.")
        products.append(Product(f"P{i + 1:05d}", category, brand, title, description, price))
    by_category = {c: sorted((p for p in products if p.category == c), key=lambda p: p.price)
                   for c in CATEGORY_NAMES}
    return products, by_category


def _dirichlet(rng: random.Random, alphas: list[float]) -> list[float]:
    draws = [rng.gammavariate(a, 1.0) for a in alphas]
    total = sum(draws)
    return [d / total for d in draws]


def _make_users(rng: random.Random, n: int, days: int, start: date) -> list[User]:
    users = []
    weights = [a.share for a in ARCHETYPES]
    for i in range(n):
        arch = rng.choices(ARCHETYPES, weights)[0]
        if arch.name == "category_specialist":
            focus = rng.randrange(len(CATEGORY_NAMES))
            prefs = _dirichlet(rng, [30.0 if j == focus else 0.3 for j in range(len(CATEGORY_NAMES))])
        else:
            prefs = _dirichlet(rng, [arch.concentration] * len(CATEGORY_NAMES))
        if arch.name == "new_user":
            first_day = rng.randrange(max(1, days * 2 // 3))
            signup = start + timedelta(days=first_day)
        else:
            first_day = 0
            signup = start - timedelta(days=rng.randrange(30, 1500))
        users.append(User(
            user_id=f"U{i + 1:06d}", archetype=arch, signup=signup, first_active_day=first_day, prefs=prefs,
            price_pos=min(0.99, max(0.01, rng.gauss(arch.price_pos, 0.08))),
            favourite_brand={c: rng.choice(CATEGORIES[c]["brands"]) for c in CATEGORY_NAMES},
            hour=(arch.hour + rng.gauss(0, 1.5)) % 24,
            device=rng.choice(DEVICES),
        ))
    return users


def _activity(user: User, day: int, days: int) -> float:
    """Chance of being active on a day: lapsing users fade out, new users start at signup."""
    if day < user.first_active_day:
        return 0.0
    p = user.archetype.p_active
    if user.archetype.name == "lapsing":
        p *= math.exp(-3.5 * day / max(days - 1, 1))
    return p


def _expected_events_per_session(a: Archetype) -> float:
    carts = a.views * a.p_cart
    purchases = carts * a.p_buy
    return a.p_search + a.views + carts + purchases * 1.2  # reviews and returns on some purchases


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine for the small means used here; a normal approximation above 30.
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _format_ts(rng: random.Random, instant: datetime) -> str:
    """The same UTC instant (naive datetime) in one of several ISO-8601 spellings, as real
    producers mix them."""
    style = rng.randrange(5)
    if style == 0:
        return instant.isoformat(timespec="seconds") + "Z"
    if style == 1:
        return instant.isoformat(timespec="milliseconds") + "+00:00"
    if style == 2:
        return instant.isoformat(" ", "seconds") + "+00:00"
    hours, minutes = rng.choice(OFFSETS)
    local = instant + timedelta(hours=hours, minutes=math.copysign(minutes, hours))
    sign = "+" if hours >= 0 else "-"
    colon = ":" if style == 3 else ""
    return f"{local.isoformat(timespec='seconds')}{sign}{abs(hours):02d}{colon}{minutes:02d}"


class _DayWriter:
    """Writes one day's events in the chosen format and counts what it wrote."""

    COLUMNS = ("event_id", "ts", "user_id", "session_id", "event_type", "product_id", "price", "quantity",
               "query", "review_text", "rating", "device")

    def __init__(self, path: Path, fmt: str):
        self.fmt = fmt
        self.lines = 0
        self._handle: IO[str] | None = None
        self._rows: list[dict] = []
        self._parquet = None
        self.path = path
        if fmt == "jsonl.gz":
            # mtime=0 and no stored name keep the bytes identical across runs
            self._raw = open(path, "wb")  # noqa: SIM115 (closed in close())
            self._gzip = gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=self._raw, mtime=0)
            self._handle = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")
        elif fmt in ("jsonl", "csv"):
            self._handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        if fmt == "csv":
            self._csv = csv.writer(self._handle, lineterminator="\n")
            self._csv.writerow(self.COLUMNS)

    @property
    def text_lines(self) -> bool:
        return self.fmt in ("jsonl", "jsonl.gz")

    def event(self, event: dict) -> str | None:
        self.lines += 1
        if self.text_lines:
            line = _ENCODER.encode(event)
            self._handle.write(line + "\n")
            return line
        if self.fmt == "csv":
            self._csv.writerow(["" if event.get(c) is None else event.get(c) for c in self.COLUMNS])
        else:
            self._rows.append(event)
            if len(self._rows) >= 100_000:
                self._flush_parquet()
        return None

    def raw_line(self, line: str) -> None:
        """A line exactly as given (malformed JSON, or a duplicate of an earlier line)."""
        self.lines += 1
        self._handle.write(line + "\n")

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        schema = pa.schema([(c, pa.float64() if c == "price" else pa.int64() if c in ("quantity", "rating")
                             else pa.string()) for c in self.COLUMNS])
        table = pa.Table.from_pylist([{c: r.get(c) for c in self.COLUMNS} for r in self._rows], schema=schema)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, schema)
        self._parquet.write_table(table)
        self._rows = []

    def close(self) -> None:
        if self.fmt == "parquet":
            self._flush_parquet()
            if self._parquet is not None:
                self._parquet.close()
        elif self._handle is not None:
            self._handle.close()
            if self.fmt == "jsonl.gz":
                self._raw.close()


class _DayGenerator:
    """Generates one day: sessions of every active user, bots, and dirt around clean events."""

    def __init__(self, day_index: int, day: date, users: list[User], by_category: dict[str, list[Product]],
                 days: int, dirt: DirtRates, activity_scale: float, seed: int, writer: _DayWriter):
        self.rng = random.Random(seed * 1_000_003 + day_index)
        self.day_index, self.day, self.users, self.days = day_index, day, users, days
        self.by_category, self.dirt, self.scale, self.writer = by_category, dirt, activity_scale, writer
        self.by_brand: dict[tuple[str, str], list[Product]] = {}
        for category, items in by_category.items():
            for product in items:  # items are price-sorted, and so is each brand's list
                self.by_brand.setdefault((category, product.brand), []).append(product)
        self.midnight = datetime(day.year, day.month, day.day)  # naive UTC: cheaper to format
        self.prefix = f"e{day:%Y%m%d}"
        self.counter = 0
        self.recent: deque[str] = deque(maxlen=1000)  # clean lines to copy as duplicates
        self.counts = {"date": day.isoformat(), "lines": 0, "clean_events": 0, "bot_events": 0,
                       **{k: 0 for k in DIRT_KINDS}}
        self.dirt_weights = [getattr(dirt, k) for k in DIRT_KINDS]
        self.dirt_total = sum(self.dirt_weights)

    def _next_id(self) -> str:
        self.counter += 1
        return f"{self.prefix}-{self.counter:07d}"

    def _product(self, user: User, category: str) -> Product:
        rng = self.rng
        items = self.by_category[category]
        if rng.random() < 0.4:
            items = self.by_brand.get((category, user.favourite_brand[category])) or items
        pos = min(0.999, max(0.0, rng.gauss(user.price_pos, 0.12)))
        return items[int(pos * len(items))]

    def _emit(self, event: dict) -> None:
        """Write a clean event, then any dirt planted next to it."""
        line = self.writer.event(event)
        self.counts["clean_events"] += 1
        if line is not None:
            self.recent.append(line)
        # One draw decides whether this event gets a dirty neighbour, a second which kind.
        if self.rng.random() >= self.dirt_total:
            return
        kind = self.rng.choices(DIRT_KINDS, self.dirt_weights)[0]
        if kind in PRICED_DIRT and event.get("price") is None:
            return
        if kind in ("duplicate", "malformed") and not self.writer.text_lines:
            return  # CSV/Parquet rows cannot carry a verbatim copy or broken JSON
        self._plant(kind, event)

    def _plant(self, kind: str, template: dict) -> None:
        rng = self.rng
        self.counts[kind] += 1
        if kind == "duplicate":
            self.writer.raw_line(rng.choice(self.recent))
            return
        if kind == "malformed":
            text = _ENCODER.encode(dict(template, event_id=self._next_id()))
            self.writer.raw_line(text[: rng.randrange(5, len(text) - 2)] if rng.random() < 0.7
                                 else "<html>502 Bad Gateway</html>")
            return
        bad = dict(template, event_id=self._next_id())
        if kind == "missing_user":
            choice = rng.randrange(3)
            if choice == 0:
                del bad["user_id"]
            else:
                bad["user_id"] = None if choice == 1 else ""
        elif kind == "unknown_type":
            bad["event_type"] = rng.choice(["click", "wishlist_add", "page_ping"])
        elif kind == "negative_price":
            bad["price"] = -abs(bad["price"])
        elif kind == "absurd_price":
            bad["price"] = round(bad["price"] * 1000, 2)
        elif kind == "future_ts":
            bad["ts"] = "2099" + bad["ts"][4:]
        elif kind == "wrong_day":
            instant = self.midnight - timedelta(seconds=rng.randrange(1, 86_400))
            bad["ts"] = _format_ts(rng, instant)
        self.writer.event(bad)

    def _event(self, user: User, session: str, when: datetime, event_type: str, **fields: Any) -> None:
        event = {"event_id": self._next_id(), "ts": _format_ts(self.rng, when), "user_id": user.user_id,
                 "session_id": session, "event_type": event_type, **fields,
                 "device": user.device if self.rng.random() < 0.9 else self.rng.choice(DEVICES)}
        self._emit(event)

    def _session(self, user: User, number: int) -> None:
        rng, arch = self.rng, user.archetype
        hour = (user.hour + rng.gauss(0, 2.0)) % 24
        when = self.midnight + timedelta(seconds=int(hour * 3600))
        end_of_day = self.midnight + timedelta(seconds=86_399)
        session = f"S{user.user_id[1:]}-{self.day:%m%d}-{number}"

        def step() -> datetime:
            nonlocal when
            when = min(end_of_day, when + timedelta(seconds=rng.randrange(5, 150)))
            return when

        category = rng.choices(CATEGORY_NAMES, user.prefs)[0]
        if rng.random() < arch.p_search:
            spec = CATEGORIES[category]
            words = [rng.choice(spec["adjectives"]), rng.choice(spec["nouns"])]
            if rng.random() < 0.35:
                words.append(user.favourite_brand[category].lower())
            if arch.name == "bargain_hunter" and rng.random() < 0.5:
                words.insert(0, rng.choice(["cheap", "discount", "budget", "sale"]))
            self._event(user, session, step(), "search", query=" ".join(words))
        for _ in range(max(1, _poisson(rng, arch.views))):
            if rng.random() > 0.7:
                category = rng.choices(CATEGORY_NAMES, user.prefs)[0]
            product = self._product(user, category)
            price = round(product.price * (1 - rng.choice([0, 0, 0, 0.1, 0.2])), 2)
            self._event(user, session, step(), "view", product_id=product.product_id, price=price)
            if rng.random() >= arch.p_cart:
                continue
            quantity = 1 if rng.random() < 0.8 else rng.randrange(2, 4)
            self._event(user, session, step(), "cart", product_id=product.product_id, price=price,
                        quantity=quantity)
            if rng.random() >= arch.p_buy:
                continue
            self._event(user, session, step(), "purchase", product_id=product.product_id, price=price,
                        quantity=quantity)
            if rng.random() < 0.15:
                rating = rng.choices([1, 2, 3, 4, 5], [0.1, 0.08, 0.12, 0.3, 0.4])[0]
                pool = NEGATIVE if rating <= 2 else MIXED if rating == 3 else POSITIVE
                noun = rng.choice(CATEGORIES[product.category]["nouns"])
                self._event(user, session, step(), "review", product_id=product.product_id, price=price,
                            rating=rating, review_text=rng.choice(pool).format(noun=noun))
            if rng.random() < 0.04:
                self._event(user, session, step(), "return", product_id=product.product_id, price=price,
                            quantity=quantity)

    def _bot(self, bot_id: str) -> None:
        rng = self.rng
        total = rng.randrange(1500, 3001)
        products = [p for items in self.by_category.values() for p in items]
        emitted, session = 0, 0
        while emitted < total:
            burst = min(total - emitted, rng.randrange(150, 400))
            start = self.midnight + timedelta(seconds=rng.randrange(0, 86_400 - 600))
            session += 1
            for k in range(burst):
                when = start + timedelta(seconds=k * rng.uniform(0.2, 0.8))
                product = rng.choice(products)
                self.writer.event({"event_id": self._next_id(), "ts": _format_ts(rng, when), "user_id": bot_id,
                                   "session_id": f"{bot_id}-{self.day:%m%d}-{session}", "event_type": "view",
                                   "product_id": product.product_id, "price": product.price, "device": "desktop"})
            emitted += burst
        self.counts["bot_events"] += total

    def run(self, bot_ids: list[str]) -> dict:
        rng = self.rng
        for user in self.users:
            p = _activity(user, self.day_index, self.days)
            if p <= 0 or rng.random() >= p:
                continue
            for number in range(max(1, _poisson(rng, user.archetype.sessions * self.scale))):
                self._session(user, number)
        for bot_id in bot_ids:
            self._bot(bot_id)
        self.counts["lines"] = self.writer.lines
        return self.counts


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _activity_scale(users: list[User], days: int, events_per_day: int | None) -> float:
    """Session-rate multiplier that makes an average day hold about events_per_day events."""
    if not events_per_day:
        return 1.0
    expected = sum(
        _activity(u, d, days) * u.archetype.sessions * _expected_events_per_session(u.archetype)
        for u in users for d in range(days)
    ) / days
    return events_per_day / expected if expected else 1.0


def generate(data_dir: Path, *, users: int = 2000, products: int = 300, days: int = 14,
             start: date = date(2026, 10, 1), seed: int = 7, dirt: DirtRates = DirtRates(),
             events_per_day: int | None = None, fmt: str = "jsonl.gz",
             progress: Callable[[str], None] | None = None) -> dict:
    """Write demo landing files and ground truth under data_dir; returns the summary."""
    if fmt not in ("jsonl", "jsonl.gz", "csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: use jsonl, jsonl.gz, csv or parquet")
    if users < 1 or products < len(CATEGORY_NAMES) or days < 1:
        raise ValueError(f"need users >= 1, products >= {len(CATEGORY_NAMES)}, days >= 1")
    data_dir = Path(data_dir)
    rng = random.Random(seed)
    catalogue, by_category = _make_products(rng, products)
    population = _make_users(rng, users, days, start)
    bot_ids = [f"BOT{i + 1:04d}" for i in range(dirt.bot_users)]
    scale = _activity_scale(population, days, events_per_day)

    _write_csv(data_dir / "landing" / "products" / "products.csv",
               ["product_id", "title", "description", "category", "brand", "price"],
               [[p.product_id, p.title, p.description, p.category, p.brand, p.price] for p in catalogue])
    user_rows = []
    for u in population:
        age = "" if rng.random() < 0.03 else max(16, min(90, int(rng.gauss(38, 12))))
        city = "" if rng.random() < 0.02 else rng.choice(CITIES)
        user_rows.append([u.user_id, u.signup.isoformat(), age, rng.choice(["F", "M", "F", "M", "X", ""]), city,
                          f"{u.user_id.lower()}@example.com", f"+44 7{rng.randrange(10**8, 10**9)}"])
    _write_csv(data_dir / "landing" / "users" / "users.csv",
               ["user_id", "signup_date", "age", "gender", "city", "email", "phone"], user_rows)
    _write_csv(data_dir / "ground_truth" / "users.csv", ["user_id", "archetype", "is_bot", "category_prefs"],
               [[u.user_id, u.archetype.name, False,
                 "|".join(f"{c}:{w:.4f}" for c, w in sorted(zip(CATEGORY_NAMES, u.prefs), key=lambda x: -x[1]))]
                for u in population] + [[b, "bot", True, ""] for b in bot_ids])

    summary: dict[str, Any] = {
        "params": {"users": users, "products": products, "days": days, "start": start.isoformat(),
                   "seed": seed, "events_per_day": events_per_day, "format": fmt, "dirt": asdict(dirt)},
        "days": [],
    }
    for index in range(days):
        day = start + timedelta(days=index)
        folder = data_dir / "landing" / "events" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("events.*"):
            old.unlink()  # a rerun with another format must not leave the old file beside the new
        started = time.perf_counter()
        writer = _DayWriter(folder / f"events.{fmt}", fmt)
        try:
            counts = _DayGenerator(index, day, population, by_category, days, dirt, scale, seed,
                                   writer).run(bot_ids)
        finally:
            writer.close()
        summary["days"].append(counts)
        if progress:
            progress(f"{day}: {counts['lines']:,} lines ({counts['clean_events']:,} clean events) "
                     f"in {time.perf_counter() - started:.1f}s")
    truth = data_dir / "ground_truth" / "summary.json"
    truth.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _cmd_generate(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    summary = generate(
        Path(args.data_dir), users=args.users, products=args.products, days=args.days,
        start=date.fromisoformat(args.start), seed=args.seed, dirt=DirtRates().scaled(args.dirt_scale),
        events_per_day=args.events_per_day, fmt=args.format, progress=print,
    )
    lines = sum(d["lines"] for d in summary["days"])
    events = sum(d["clean_events"] for d in summary["days"])
    print(f"{len(summary['days'])} days, {lines:,} lines ({events:,} clean events) written to "
          f"{args.data_dir} in {time.perf_counter() - started:.1f}s; ground truth in "
          f"{Path(args.data_dir) / 'ground_truth'}")


def register_cli(subparsers: Any) -> None:
    parser = subparsers.add_parser("generate", help="write demo landing files with planted truth and dirt")
    parser.add_argument("--data-dir", default=os.environ.get("PROFILING_DATA_DIR", "data"))
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--start", default="2026-10-01", help="first day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events-per-day", type=int, default=None,
                        help="scale activity so that a day holds about this many events")
    parser.add_argument("--dirt-scale", type=float, default=1.0, help="multiply every dirt rate; 0 = clean")
    parser.add_argument("--format", default="jsonl.gz", choices=["jsonl", "jsonl.gz", "csv", "parquet"])
    parser.set_defaults(func=_cmd_generate)
