"""Demo data: an e-commerce event log with planted truth and planted dirt.

``generate`` writes a product catalogue, a registration snapshot and one event file per UTC
day under ``landing/``, plus what it planted under ``ground_truth/`` (never read by the
pipeline): every user's archetype, true category preferences and leave day, and the exact
number of each kind of dirty line per day, so that the ingest and cleaning layers can be
tested for exact outcomes and the profiles for recovering the archetypes.

Users leave: each has a leave day (an exponential lifetime with a mean per archetype, counted
from the window start or a new user's first day), after which their activity fades out with
a half-life of a few days; lapsing users are already leaving when the window opens (see
FADE_HALF_LIFE and ARCHETYPES). Leave days come from a random stream of their own, so every
other draw is what it was before users could leave.

The output is a pure function of the arguments (numpy generators seeded from the seed and
the day index; no clock, no salted ``hash()``). Each day is generated in chunks of sessions
in start-time order and streamed to disk, so memory does not grow with the number of events.

``generate_orders`` (``generate --profile orders``) writes another kind of source: an
order-line export in the style of "Online Retail" (invoice lines only, re-orders, closed
days, no categories); see the "orders profile" section and docs/orders_profile.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from profiling_assets.terminal import Bar, report

# --------------------------------------------------------------------------- vocabulary

# Per category: vocabulary for titles, descriptions, searches and reviews; brands (most
# popular first); (mu, sigma) of the log-normal list price.
CATEGORIES: dict[str, dict[str, Any]] = {
    "electronics": {
        "nouns": ["headphones", "speaker", "charger", "smartwatch", "keyboard", "monitor",
                  "webcam", "earbuds"],
        "adjectives": ["wireless", "bluetooth", "noise cancelling", "portable", "4k", "smart",
                       "fast charging", "ergonomic"],
        "brands": ["Sonora", "Voltix", "Pixelon", "Kadence", "Ampere"],
        "features": ["long battery life", "crisp sound", "a bright display", "quick pairing",
                     "low latency", "a sturdy build"],
        "uses": ["working from home", "travel", "gaming", "the daily commute"],
        "price": (4.3, 0.7),
    },
    "books": {
        "nouns": ["novel", "cookbook", "biography", "thriller", "travel guide", "atlas",
                  "poetry collection", "graphic novel"],
        "adjectives": ["bestselling", "illustrated", "hardcover", "paperback", "classic",
                       "award winning", "signed", "annotated"],
        "brands": ["Penwick Press", "Lantern Books", "Orchard House", "Quillstone", "Bramble"],
        "features": ["a gripping plot", "beautiful illustrations", "clear recipes",
                     "vivid characters", "sharp prose", "useful maps"],
        "uses": ["a rainy weekend", "book clubs", "gifting", "curious readers"],
        "price": (2.7, 0.4),
    },
    "fashion": {
        "nouns": ["sneakers", "jacket", "dress", "jeans", "scarf", "handbag", "boots", "hoodie"],
        "adjectives": ["leather", "slim fit", "waterproof", "cotton", "vintage", "oversized",
                       "summer", "wool"],
        "brands": ["Northline", "Velda", "Marlowe", "Urbano", "Tessal"],
        "features": ["a flattering cut", "soft fabric", "sturdy stitching", "a timeless look",
                     "deep pockets", "a relaxed fit"],
        "uses": ["everyday wear", "the office", "weekend trips", "cold mornings"],
        "price": (3.8, 0.55),
    },
    "home_kitchen": {
        "nouns": ["blender", "frying pan", "coffee maker", "knife set", "duvet", "desk lamp",
                  "storage box", "kettle"],
        "adjectives": ["stainless steel", "non stick", "ceramic", "energy efficient", "compact",
                       "cast iron", "bamboo", "cordless"],
        "brands": ["Hearthly", "Casaro", "Kitchwell", "Domus", "Nestora"],
        "features": ["easy cleaning", "even heating", "a space saving design",
                     "quiet operation", "a comfortable handle", "a generous capacity"],
        "uses": ["small kitchens", "family dinners", "busy mornings", "a cosy bedroom"],
        "price": (3.7, 0.6),
    },
    "beauty": {
        "nouns": ["moisturizer", "lipstick", "shampoo", "serum", "perfume", "face mask",
                  "sunscreen", "nail polish"],
        "adjectives": ["hydrating", "organic", "matte", "vitamin c", "fragrance free",
                       "long lasting", "spf 50", "vegan"],
        "brands": ["Lumea", "Rosabel", "Purelle", "Aurae", "Celest"],
        "features": ["a light texture", "a subtle scent", "gentle ingredients",
                     "lasting colour", "quick absorption", "a refillable bottle"],
        "uses": ["sensitive skin", "daily routines", "summer days", "evenings out"],
        "price": (3.0, 0.5),
    },
    "sports": {
        "nouns": ["yoga mat", "running shoes", "dumbbells", "bike helmet", "tennis racket",
                  "water bottle", "fitness tracker", "hiking backpack"],
        "adjectives": ["lightweight", "breathable", "adjustable", "anti slip", "insulated",
                       "professional", "foldable", "reflective"],
        "brands": ["Stridex", "Peakform", "Aerolite", "Vantor", "Kinetiq"],
        "features": ["a solid grip", "thick cushioning", "durable materials",
                     "an accurate sensor", "padded straps", "quick drying fabric"],
        "uses": ["home workouts", "trail running", "the gym", "long rides"],
        "price": (3.6, 0.65),
    },
    "toys": {
        "nouns": ["building blocks", "jigsaw puzzle", "doll", "board game", "remote control car",
                  "plush bear", "train set", "science kit"],
        "adjectives": ["educational", "colorful", "wooden", "interactive", "battery powered",
                       "family", "creative", "classic"],
        "brands": ["Tinkertown", "Joybox", "Playmo", "Brightkid", "Wonderlo"],
        "features": ["hours of fun", "safe materials", "a clever design", "easy assembly",
                     "bright colours", "clear instructions"],
        "uses": ["rainy afternoons", "birthday gifts", "young explorers", "family game night"],
        "price": (3.1, 0.5),
    },
    "grocery": {
        "nouns": ["coffee beans", "olive oil", "green tea", "pasta", "dark chocolate", "honey",
                  "granola", "spice mix"],
        "adjectives": ["organic", "fair trade", "extra virgin", "gluten free", "roasted",
                       "artisan", "wholegrain", "premium"],
        "brands": ["Farmstead", "Goldleaf", "Verdana", "Millbrook", "Olvera"],
        "features": ["a rich flavour", "a fresh aroma", "a smooth finish",
                     "natural ingredients", "resealable packaging", "a balanced taste"],
        "uses": ["quick breakfasts", "home cooking", "afternoon breaks", "healthy snacking"],
        "price": (2.2, 0.5),
    },
}
CATEGORY_NAMES = list(CATEGORIES)
N_CATEGORIES = len(CATEGORY_NAMES)
N_BRANDS = 5  # per category
CATEGORY_POPULARITY = np.array([0.18, 0.12, 0.16, 0.14, 0.1, 0.11, 0.08, 0.11])
BRAND_POPULARITY = np.array([0.32, 0.24, 0.18, 0.15, 0.11])

# Review sentences by sentiment. Every negative sentence holds a word of the negative
# lexicon and every positive one a word of the positive lexicon; mixed ones hold neither,
# so that a test (or a sentiment model) can check that text follows the rating.
REVIEW_OPENERS = {
    "negative": ["Terrible {noun}, it broke after a week.", "Very disappointed with this {noun}.",
                 "Poor quality {noun}, I would not buy it again.", "A waste of money.",
                 "Cheap and flimsy, the {noun} stopped working."],
    "mixed": ["The {noun} is okay, nothing special.", "A decent {noun} but a bit overpriced.",
              "Average {noun}, it does the job.", "Mixed feelings about this {noun}."],
    "positive": ["Love this {noun}!", "Excellent {noun}, exactly as described.",
                 "Great quality {noun}, highly recommend.", "Really happy with this {noun}.",
                 "Fantastic {noun}, worth every penny."],
}
REVIEW_DETAILS = {
    "negative": ["Nothing like the photos.", "Customer service was unhelpful.",
                 "Returning it.", "Poor value from {brand}."],
    "mixed": ["Delivery took a while.", "Expected more for the price.",
              "Fine for occasional use.", "{Feature} could be better."],
    "positive": ["{Feature} is great.", "Arrived quickly and works perfectly.",
                 "Would happily buy from {brand} again.", "Great for {use}."],
}
BRAND_ONLY_QUERIES = 0.2  # share of searches that are just a brand name
TYPO_QUERIES = 0.15       # share of searches with two neighbouring letters swapped
# Drift (--drift-from): from that day on, every user's category preferences move three
# categories along (their favourite becomes a category they cared little for) and they buy
# further up each category's price range, as after a season change or a price rise.
DRIFT_CATEGORY_SHIFT = 3
DRIFT_PRICE_POS_SHIFT = 0.35
SEARCH_PREFIXES = {"bargain_hunter": ["cheap", "discount", "budget", "best price"],
                   "loyal_high_spender": ["premium", "best", "luxury"]}


def _typo(word: str, where: int) -> str:
    """``word`` with two neighbouring letters swapped (the commonest typing slip)."""
    spots = [i for i in range(len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha()
             and word[i] != word[i + 1]]
    if not spots:
        return word
    i = spots[where % len(spots)]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


FIRST_NAMES = ["olivia", "liam", "emma", "noah", "ava", "lucas", "mia", "leo", "amelia", "hugo",
               "sofia", "arthur", "isla", "mateo", "chloe", "elias", "zara", "omar", "nina",
               "jonas"]
LAST_NAMES = ["smith", "garcia", "muller", "rossi", "dubois", "kowalski", "jansen", "silva",
              "murphy", "novak", "berg", "costa", "weber", "moreau", "lindqvist", "brown"]
EMAIL_DOMAINS = ["example.com", "example.org", "mail.example.net"]
CITIES = ["London", "Manchester", "Birmingham", "Paris", "Lyon", "Berlin", "Hamburg", "Madrid",
          "Barcelona", "Rome", "Milan", "Amsterdam", "Dublin", "Lisbon", "Warsaw", "Vienna"]
CITY_WEIGHTS = np.array([14, 6, 4, 11, 4, 9, 4, 8, 5, 6, 4, 6, 4, 4, 4, 3], dtype=float)
DEVICES = ["mobile", "desktop", "tablet", "app"]
DEVICE_WEIGHTS = np.array([0.42, 0.28, 0.1, 0.2])
UNKNOWN_TYPES = ["click", "wishlist_add", "page_ping", "checkout_start", "impression"]

# Event types, in the order in which a product view unfolds (view, cart, purchase, review).
VIEW, CART, PURCHASE, REVIEW, SEARCH, RETURN = range(6)
TYPE_NAMES = ["view", "cart", "purchase", "review", "search", "return"]
# Promotions: the fraction of the list price paid, and how often each applies.
DISCOUNTS = np.array([1.0, 0.95, 0.9, 0.8, 0.7])
DISCOUNT_WEIGHTS = np.array([0.7, 0.08, 0.1, 0.08, 0.04])
P_RETURN = 0.05  # of purchases, returned 1-7 days later

# Timestamp spellings: Z; milliseconds +00:00; space +00:00; local time with an offset with
# and without a colon. Offsets are (minutes east of UTC).
TS_STYLE_WEIGHTS = np.array([0.3, 0.2, 0.2, 0.2, 0.1])
TS_Z, TS_MS, TS_SPACE, TS_OFFSET_COLON, TS_OFFSET_PLAIN = range(5)
OFFSET_MINUTES = np.array([330, 120, -420, 540, -180, 60, -240, 600, 345])
DAY_MS = 86_400_000

# Habitual hours of activity (UTC): morning, lunch, evening, night.
HABIT_HOURS = np.array([8.0, 12.5, 19.5, 23.0])


@dataclass(frozen=True)
class Archetype:
    """A kind of user: how often, when and how they shop."""

    name: str
    share: float        # of registered users
    p_active: float     # chance of at least one session on a day
    sessions: float     # mean sessions on an active day (>= 1)
    views: float        # mean product views per session
    p_search: float     # chance a session starts with a search
    p_cart: float       # view -> cart
    p_buy: float        # cart -> purchase
    p_review: float     # purchase -> review
    price_pos: float    # preferred position in a category's price range, 0 cheap .. 1 dear
    cat_conc: float     # Dirichlet concentration of category preferences (small = focused;
                        # specialists: of the categories outside their focus)
    brand_conc: float   # Dirichlet concentration of brand preferences within a category
    p_brand: float      # chance a view follows brand preferences rather than price alone
    habits: tuple[float, float, float, float]  # weights of HABIT_HOURS as the main peak
    lifetime_days: float  # mean of the exponential lifetime before the user starts to leave
                          # (from the window start, or a new user's first day); 0 = leaving
                          # from the start
    fade_half_life: float  # days in which the activity of a leaving user halves


# Leaving (churn). Every human user has a leave day: the window start (a new user: their first
# day) plus an exponential lifetime of the archetype's mean, whole days. From the leave day on,
# the user's chance of being active halves every fade_half_life days: engagement fades before
# it stops. Lapsing users are the customers already on their way out when the window opens:
# lifetime 0 (leave day = day 0) and a faster fade, e^-4 over 13 days, the fade they always had
# in the 14-day default demo, now in days rather than relative to the window's length.
FADE_HALF_LIFE = 5.0  # days
LAPSE_HALF_LIFE = 2.25  # days (0.5 ** (13 / 2.25) ~ e^-4)

ARCHETYPES = [
    Archetype("loyal_high_spender", 0.16, 0.6, 1.5, 3.4, 0.2, 0.34, 0.75, 0.25, 0.86, 1.0, 0.25,
              0.75, (0.2, 0.2, 0.5, 0.1), lifetime_days=400.0, fade_half_life=FADE_HALF_LIFE),
    Archetype("bargain_hunter", 0.18, 0.5, 1.4, 4.0, 0.5, 0.2, 0.5, 0.12, 0.1, 1.0, 4.0, 0.15,
              (0.3, 0.4, 0.2, 0.1), lifetime_days=200.0, fade_half_life=FADE_HALF_LIFE),
    Archetype("window_shopper", 0.18, 0.5, 1.4, 5.0, 0.3, 0.05, 0.15, 0.1, 0.5, 2.5, 1.5, 0.4,
              (0.1, 0.2, 0.3, 0.4), lifetime_days=90.0, fade_half_life=FADE_HALF_LIFE),
    Archetype("new_user", 0.16, 0.5, 1.2, 4.2, 0.45, 0.2, 0.45, 0.15, 0.45, 1.0, 1.0, 0.4,
              (0.25, 0.25, 0.3, 0.2), lifetime_days=150.0, fade_half_life=FADE_HALF_LIFE),
    Archetype("lapsing", 0.16, 0.65, 1.3, 4.2, 0.3, 0.2, 0.5, 0.15, 0.5, 1.0, 1.0, 0.5,
              (0.5, 0.2, 0.2, 0.1), lifetime_days=0.0, fade_half_life=LAPSE_HALF_LIFE),
    Archetype("category_specialist", 0.16, 0.5, 1.4, 4.4, 0.35, 0.25, 0.55, 0.2, 0.6, 0.08, 0.5,
              0.6, (0.2, 0.3, 0.4, 0.1), lifetime_days=250.0, fade_half_life=FADE_HALF_LIFE),
]
ARCHETYPE_NAMES = [a.name for a in ARCHETYPES]
BARGAIN = ARCHETYPE_NAMES.index("bargain_hunter")
SPECIALIST = ARCHETYPE_NAMES.index("category_specialist")
NEW_USER = ARCHETYPE_NAMES.index("new_user")
LAPSING = ARCHETYPE_NAMES.index("lapsing")
FOCUS_CONC = 12.0  # a specialist's Dirichlet concentration on the focus category (~0.94 of it)
BOT_EVENTS = (1500, 3000)  # views per bot per day
# One column per Archetype field, indexed by archetype code.
_A = {f.name: np.array([getattr(a, f.name) for a in ARCHETYPES])
      for f in fields(Archetype) if f.name != "name"}


@dataclass(frozen=True)
class DirtRates:
    """Planted dirt, as a fraction of a day's clean events per kind; bot_users is a count.

    Every dirty line is one extra line next to a clean event (a duplicate copies an earlier
    clean line instead), so rates are per clean event and the kinds never overlap.
    """

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
        """Every rate times factor, bot_users rounded; factor 0 gives clean data."""
        if factor < 0:
            raise ValueError(f"dirt scale must be >= 0, got {factor}")
        rates = {k: v * factor for k, v in asdict(self).items() if k != "bot_users"}
        return replace(self, **rates, bot_users=round(self.bot_users * factor))


DIRT_KINDS = ["duplicate", "malformed", "missing_user", "unknown_type", "negative_price",
              "absurd_price", "future_ts", "wrong_day"]
_DUPLICATE, _MALFORMED = 0, 1
_PRICED_KINDS = {4, 5}  # need a template event with a price
DUPLICATE_WINDOW = 1000  # a duplicate copies one of the last this many clean human lines
CHUNK_SESSIONS = 4096  # sessions generated and written at a time (bounds memory)
FORMATS = ("jsonl", "jsonl.gz", "csv", "parquet")
COLUMNS = ("event_id", "ts", "user_id", "session_id", "event_type", "product_id", "price",
           "quantity", "query", "review_text", "rating", "device")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    # SeedSequence mixes the whole tuple, so (seed, day) streams are independent.
    return np.random.default_rng([seed & 0xFFFF_FFFF_FFFF_FFFF, *stream])


def _pick_cumulative(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of cum (rows of cumulative weights ending in 1)."""
    r = rng.random(len(cum))
    return (r[:, None] >= cum).sum(axis=1)


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=-1)
    cum /= cum[..., -1:]
    cum[..., -1] = 1.0  # rounding must never leave a draw beyond the last bucket
    return cum.astype(np.float32)


# --------------------------------------------------------------------------- catalogue


class _Catalogue:
    def __init__(self, rng: np.random.Generator, n: int):
        self.n = n
        cat = np.concatenate([np.arange(N_CATEGORIES),  # every category has a product
                              rng.choice(N_CATEGORIES, n - N_CATEGORIES, p=CATEGORY_POPULARITY)])
        brand = rng.choice(N_BRANDS, n, p=BRAND_POPULARITY)
        tier = np.exp(rng.normal(0.0, 0.3, (N_CATEGORIES, N_BRANDS)))  # brands differ in price
        mu = np.array([CATEGORIES[c]["price"][0] for c in CATEGORY_NAMES])
        sigma = np.array([CATEGORIES[c]["price"][1] for c in CATEGORY_NAMES])
        raw = np.exp(mu[cat] + sigma[cat] * rng.standard_normal(n)) * tier[cat, brand]
        price = np.maximum(np.where(raw >= 5, np.floor(raw) + 0.99, np.round(raw, 2)), 0.49)
        self.cat, self.brand, self.price = cat, brand, price
        self.quality = np.clip(rng.normal(4.0, 0.6, n), 1.8, 4.9)  # drives ratings
        self.noun = rng.integers(0, 8, n)
        adjs = rng.integers(0, 8, (n, 2))
        feats = rng.integers(0, 6, (n, 2))
        uses = rng.integers(0, 4, n)
        editions = rng.choice(["", " Pro", " Mini", " Plus", " Max", " 2", " Lite"], n)

        self.ids = np.array([f"P{i + 1:05d}" for i in range(n)])
        self.titles, self.descriptions = [], []
        for c, b, noun, (a1, a2), (f1, f2), use, edition in zip(
                cat.tolist(), brand.tolist(), self.noun.tolist(), adjs.tolist(), feats.tolist(),
                uses.tolist(), editions.tolist()):
            spec = CATEGORIES[CATEGORY_NAMES[c]]
            b, noun = spec["brands"][b], spec["nouns"][noun]
            a1, a2 = spec["adjectives"][a1], spec["adjectives"][a2]
            f1, f2 = spec["features"][f1], spec["features"][(f1 + 1 + f2 % 5) % 6]  # distinct
            self.titles.append(f"{b} {a1.title()} {noun.title()}{edition}")
            self.descriptions.append(f"{a1.capitalize()} {noun} from {b}, with {f1} and {f2}. "
                                     f"{a2.capitalize()} and made for {spec['uses'][use]}.")

        # Price-sorted lookup tables: a price position in [0, 1) picks a product of a
        # category, or of a category's brand, by rank.
        self.by_cat = np.lexsort((price, cat))
        self.cat_start = np.searchsorted(cat[self.by_cat], np.arange(N_CATEGORIES))
        self.cat_len = np.bincount(cat, minlength=N_CATEGORIES)
        key = cat * N_BRANDS + brand
        self.by_brand = np.lexsort((price, key))
        self.brand_start = np.searchsorted(key[self.by_brand], np.arange(N_CATEGORIES * N_BRANDS))
        self.brand_len = np.bincount(key, minlength=N_CATEGORIES * N_BRANDS)

        # Prices as paid (list price times a promotion) and their JSON text, computed once.
        self.paid = np.round(price[:, None] * DISCOUNTS[None, :], 2)
        # (json.dumps writes floats with repr, so these match the dirty lines' encoding)
        ids = np.repeat(self.ids, len(DISCOUNTS)).tolist()
        paid = self.paid.ravel().tolist()
        self.json_tail = np.array([f',"product_id":"{pid}","price":{p!r}'
                                   for pid, p in zip(ids, paid)], dtype=object)

    def pick(self, cat: np.ndarray, brand: np.ndarray, use_brand: np.ndarray,
             pos: np.ndarray) -> np.ndarray:
        """Products at price rank pos within the category, or within its brand where
        use_brand (falling back to the category where the brand has no products)."""
        key = cat * N_BRANDS + brand
        blen = self.brand_len[key]
        use_brand = use_brand & (blen > 0)
        in_brand = self.brand_start[key] + (pos * blen).astype(np.int64)
        in_cat = self.cat_start[cat] + (pos * self.cat_len[cat]).astype(np.int64)
        return np.where(use_brand, self.by_brand[np.where(use_brand, in_brand, 0)],
                        self.by_cat[in_cat])

    def rows(self) -> list[list[Any]]:
        return [[self.ids[i], self.titles[i], self.descriptions[i], CATEGORY_NAMES[self.cat[i]],
                 CATEGORIES[CATEGORY_NAMES[self.cat[i]]]["brands"][self.brand[i]],
                 repr(float(self.price[i]))] for i in range(self.n)]


# --------------------------------------------------------------------------- population


class _Population:
    """Per-user state: archetype, preferences, habits, leave day. Bots follow the humans in
    numbering.

    rng draws everything but the lifetimes, which come from life_rng: a stream of their own,
    so that every other draw is the same as before users could leave."""

    def __init__(self, rng: np.random.Generator, life_rng: np.random.Generator, n: int,
                 bots: int, days: int, start: date):
        self.n, self.bots, self.start = n, bots, start
        arch = rng.choice(len(ARCHETYPES), n, p=_A["share"] / _A["share"].sum())
        self.arch = arch
        # Dirichlet preferences around the categories' popularity; a specialist's mass sits
        # on one focus category
        alpha = _A["cat_conc"][arch][:, None] * CATEGORY_POPULARITY[None, :] * N_CATEGORIES
        focus = rng.choice(N_CATEGORIES, n, p=CATEGORY_POPULARITY)
        special = np.flatnonzero(arch == SPECIALIST)
        alpha[special] = _A["cat_conc"][SPECIALIST]
        alpha[special, focus[special]] = FOCUS_CONC
        gamma = rng.standard_gamma(alpha) + 1e-12
        self.prefs = gamma / gamma.sum(axis=1, keepdims=True)
        self.cat_cum = _cumulative(self.prefs)
        self.cat_cum_drifted = _cumulative(np.roll(self.prefs, DRIFT_CATEGORY_SHIFT, axis=1))
        balpha = (_A["brand_conc"][arch][:, None, None]
                  * (BRAND_POPULARITY * N_BRANDS)[None, None, :])
        bgamma = rng.standard_gamma(np.broadcast_to(balpha, (n, N_CATEGORIES, N_BRANDS))) + 1e-12
        self.brand_cum = _cumulative(bgamma)
        self.favourite_brand = bgamma.argmax(axis=2).astype(np.int8)  # named in searches
        del bgamma
        self.price_pos = np.clip(_A["price_pos"][arch] + rng.normal(0, 0.08, n), 0.02, 0.98)

        habits = np.array([a.habits for a in ARCHETYPES])
        main = _pick_cumulative(rng, _cumulative(habits[arch]))
        self.peak1 = HABIT_HOURS[main] + rng.normal(0, 0.75, n)
        self.peak2 = HABIT_HOURS[rng.integers(0, len(HABIT_HOURS), n)] + rng.normal(0, 0.75, n)
        self.w2 = rng.uniform(0.0, 0.35, n)  # weight of the secondary peak
        self.spread = rng.uniform(0.6, 1.8, n)  # hours
        self.device = rng.choice(len(DEVICES), n, p=DEVICE_WEIGHTS)

        # New users sign up during the window (not on day 0 unless the window is one day)
        # and are active from that day on; everyone else signed up before it.
        first = np.zeros(n, dtype=np.int64)
        new = arch == NEW_USER
        if days > 1:
            first[new] = rng.integers(1, max(2, 2 * days // 3 + 1), new.sum())
        self.first_day = np.minimum(first, days - 1)
        before = rng.integers(14, 1500, n)
        self.signup_offset = np.where(new, self.first_day, -before)  # days from start

        # leave day (days from start): lifetimes count from the window start or, for a new
        # user, from their first day; drawn as unit exponentials times the archetype's mean
        # so that a longer mean only moves the same users' leave days later
        lifetime = np.floor(life_rng.standard_exponential(n) * _A["lifetime_days"][arch])
        self.leave_day = self.first_day + lifetime.astype(np.int64)
        self.fade_half_life = _A["fade_half_life"][arch]

        self.ids = np.array([f"U{i + 1:06d}" for i in range(n + bots)])

    def activity(self, day: int) -> np.ndarray:
        """Chance of being active on a day: new users start at signup; from their leave day on,
        users fade out (halving every fade_half_life days)."""
        p = _A["p_active"][self.arch].copy()
        gone = np.flatnonzero(self.leave_day < day)
        p[gone] *= np.exp2(-(day - self.leave_day[gone]) / self.fade_half_life[gone])
        p[self.first_day > day] = 0.0
        return p

    def registration_rows(self, rng: np.random.Generator, start: date) -> list[list[Any]]:
        n = self.n
        age = np.clip(np.where(self.arch == NEW_USER, rng.normal(30, 9, n), rng.normal(41, 13, n)),
                      18, 85).astype(int)
        age_missing = rng.random(n) < 0.03
        gender = rng.choice(["F", "M", "X", ""], n, p=[0.49, 0.46, 0.02, 0.03])
        city = rng.choice(len(CITIES), n, p=CITY_WEIGHTS / CITY_WEIGHTS.sum())
        city_missing = rng.random(n) < 0.02
        first = rng.integers(0, len(FIRST_NAMES), n)
        last = rng.integers(0, len(LAST_NAMES), n)
        domain = rng.integers(0, len(EMAIL_DOMAINS), n)
        phone = rng.integers(0, 10**6, n)
        signup = (np.datetime64(start.isoformat()) + self.signup_offset).astype(str)
        age_text = np.where(age_missing, "", age.astype(str))
        city_text = np.where(city_missing, "", np.array(CITIES)[city])
        return [[uid, day, a, g, c, f"{FIRST_NAMES[f]}.{LAST_NAMES[la]}{i + 1}@{EMAIL_DOMAINS[d]}",
                 f"+44 7700 {ph:06d}"]
                for i, (uid, day, a, g, c, f, la, d, ph) in enumerate(zip(
                    self.ids[:n].tolist(), signup.tolist(), age_text.tolist(), gender.tolist(),
                    city_text.tolist(), first.tolist(), last.tolist(), domain.tolist(),
                    phone.tolist()))]

    def truth_rows(self) -> list[list[Any]]:
        """user_id, archetype, is_bot, category_prefs, leave_date (from which the user's
        activity fades out; often beyond the window; empty for bots)."""
        order = np.argsort(-self.prefs, axis=1, kind="stable")  # strongest preference first
        # weights to 4 decimals by table lookup: formatting 8 floats per user is slow
        digits = np.array([f"{i / 10_000:.4f}" for i in range(10_001)], dtype=object)
        weight = np.rint(np.take_along_axis(self.prefs, order, 1) * 10_000).astype(np.int64)
        pairs = np.array([c + ":" for c in CATEGORY_NAMES], dtype=object)[order] + digits[weight]
        names = np.array(ARCHETYPE_NAMES)[self.arch]
        leave = (np.datetime64(self.start.isoformat()) + self.leave_day).astype(str)
        rows = [[uid, name, "false", "|".join(p), d] for uid, name, p, d in zip(
            self.ids[: self.n].tolist(), names.tolist(), pairs.tolist(), leave.tolist())]
        rows += [[self.ids[self.n + b], "bot", "true", "", ""] for b in range(self.bots)]
        return rows


def _expected_events_per_session() -> np.ndarray:
    """Mean clean events of one session per archetype (views at least 1; returns included)."""
    views = _A["views"] + np.exp(-_A["views"])  # E[max(1, Poisson(v))]
    promo = 1 - DISCOUNT_WEIGHTS[0]
    p_cart = np.minimum(1.0, _A["p_cart"] * (1 + promo * (np.arange(len(ARCHETYPES)) == BARGAIN)))
    p_buy = p_cart * _A["p_buy"]
    return _A["p_search"] + views * (1 + p_cart + p_buy * (1 + _A["p_review"] + P_RETURN))


# --------------------------------------------------------------------------- timestamps


@cache
def _clock_table() -> np.ndarray:
    """ "HH:MM:SS" for every second of a day: formatting by lookup is much faster than
    datetime formatting per event."""
    return np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)],
                    dtype=object)


def _offset_suffix(minutes: int, colon: bool) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(int(minutes)), 60)
    return f"{sign}{h:02d}{':' if colon else ''}{m:02d}"


_SUFFIX_COLON = [_offset_suffix(m, True) for m in OFFSET_MINUTES]
_SUFFIX_PLAIN = [_offset_suffix(m, False) for m in OFFSET_MINUTES]


def _format_day_ts(day: date, t_ms: np.ndarray, style: np.ndarray, offset: np.ndarray) -> list[str]:
    """Instants within a UTC day (ms after midnight) in mixed ISO-8601 spellings."""
    clock = _clock_table()
    out = np.empty(len(t_ms), dtype=object)
    d = day.isoformat()
    sec = t_ms // 1000
    for st in range(len(TS_STYLE_WEIGHTS)):
        m = style == st
        if not m.any():
            continue
        if st == TS_Z:
            out[m] = [f"{d}T{c}Z" for c in clock[sec[m]]]
        elif st == TS_MS:
            out[m] = [f"{d}T{c}.{ms:03d}+00:00"
                      for c, ms in zip(clock[sec[m]], (t_ms[m] % 1000).tolist())]
        elif st == TS_SPACE:
            out[m] = [f"{d} {c}+00:00" for c in clock[sec[m]]]
        else:
            # local wall time, which may fall on the previous or next calendar date
            local = sec[m] + OFFSET_MINUTES[offset[m]] * 60
            shift = np.floor_divide(local, 86_400) + 1
            dates = [(day + timedelta(days=k - 1)).isoformat() for k in range(3)]
            suffixes = _SUFFIX_COLON if st == TS_OFFSET_COLON else _SUFFIX_PLAIN
            out[m] = [f"{dates[k]}T{c}{suffixes[o]}" for k, c, o in
                      zip(shift.tolist(), clock[local % 86_400], offset[m].tolist())]
    return out.tolist()


def _format_instant(instant: datetime, style: int, offset: int) -> str:
    """One aware instant in the same spellings as _format_day_ts (for dirt: any day)."""
    instant = instant.astimezone(UTC)
    if style == TS_Z:
        return f"{instant:%Y-%m-%dT%H:%M:%S}Z"
    if style == TS_MS:
        return f"{instant:%Y-%m-%dT%H:%M:%S}.{instant.microsecond // 1000:03d}+00:00"
    if style == TS_SPACE:
        return f"{instant:%Y-%m-%d %H:%M:%S}+00:00"
    local = instant + timedelta(minutes=int(OFFSET_MINUTES[offset]))
    suffixes = _SUFFIX_COLON if style == TS_OFFSET_COLON else _SUFFIX_PLAIN
    return f"{local:%Y-%m-%dT%H:%M:%S}{suffixes[offset]}"


@cache
def _digits(width: int) -> np.ndarray:
    return np.array([f"{i:0{width}d}" for i in range(10**width)], dtype=object)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> list[str]:
    """prefix + numbers zero-padded to width, by table lookup (several times faster than
    formatting each number)."""
    if len(numbers) and numbers.max() >= 10**width:
        return [f"{prefix}{k:0{width}d}" for k in numbers.tolist()]
    return (prefix + _digits(width - 3)[numbers // 1000] + _digits(3)[numbers % 1000]).tolist()


_TYPE_TEXT = np.array(TYPE_NAMES, dtype=object)
_DEVICE_TEXT = np.array(DEVICES, dtype=object)
_QUANTITY_JSON = np.array([f',"quantity":{k}' for k in range(128)], dtype=object)


# --------------------------------------------------------------------------- event batches


@dataclass
class _Batch:
    """Events as parallel arrays; prod -1 = none, qty/rating 0 = none."""

    t: np.ndarray        # ms after midnight UTC
    user: np.ndarray
    session: np.ndarray  # the day's session number
    etype: np.ndarray
    prod: np.ndarray
    disc: np.ndarray     # index into DISCOUNTS
    qty: np.ndarray
    rating: np.ndarray
    text: np.ndarray     # query or review text (object), None elsewhere
    device: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray) -> _Batch:
        return _Batch(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(batches: list[_Batch]) -> _Batch:
        return _Batch(*(np.concatenate([getattr(b, f.name) for b in batches])
                        for f in fields(_Batch)))


def _new_batch(t, user, session, etype, prod, disc, qty, rating, text, device) -> _Batch:
    """A batch from per-event arrays or constants (user is always an array)."""
    n = len(user)

    def full(x, dtype):
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).copy()

    return _Batch(full(t, np.int64), full(user, np.int64), full(session, np.int64),
                  full(etype, np.int8), full(prod, np.int64), full(disc, np.int8),
                  full(qty, np.int8), full(rating, np.int8), full(text, object),
                  full(device, np.int8))


# --------------------------------------------------------------------------- writers


class _Sink:
    """Writes byte blocks on a background thread: compression (which releases the GIL)
    overlaps with generating the next chunk. The queue is short, so memory stays bounded."""

    def __init__(self, path: Path, compress: bool):
        self._file = open(path, "wb")  # noqa: SIM115 (closed in close())
        # mtime=0 and no stored file name keep the bytes identical across runs
        self._gzip = (gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=self._file,
                                    mtime=0) if compress else None)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        out = self._gzip or self._file
        while (block := self._queue.get()) is not None:
            if self._error is None:
                try:
                    out.write(block)
                except Exception as exc:  # noqa: BLE001 (re-raised in the generating thread)
                    self._error = exc

    def write(self, block: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._gzip is not None:
            self._gzip.close()
        self._file.close()
        if self._error is not None:
            raise self._error


class _Writer:
    """Renders events of one day file; records are whatever the format writes per line.

    world is the demo's (render() reads it); the orders profile passes None and hands over
    finished columns through render_columns()."""

    supports_malformed = False

    def __init__(self, path: Path, world: _World | None, day: date):
        self.path, self.world, self.day = path, world, day
        self.event_prefix, self.session_prefix = f"e{day:%Y%m%d}-", f"S{day:%Y%m%d}-"

    def event_ids(self, numbers: np.ndarray) -> list[str]:
        return _numbered(self.event_prefix, numbers, 7)

    def session_ids(self, numbers: np.ndarray) -> list[str]:
        return _numbered(self.session_prefix, numbers, 6)

    def render(self, b: _Batch, eids: np.ndarray, ts: list[str]) -> list[Any]:
        raise NotImplementedError

    def render_row(self, row: dict[str, Any]) -> Any:
        raise NotImplementedError

    def render_columns(self, columns: dict[str, list]) -> list[Any]:
        """Records from equally long value lists keyed by contract column (absent = None)."""
        n = len(next(iter(columns.values()), []))
        blank = [None] * n
        return list(zip(*(columns.get(c, blank) for c in COLUMNS)))

    def write(self, records: list[Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _columns(self, b: _Batch) -> dict[str, list]:
        """Per-column values (None where absent) for the CSV and Parquet writers."""
        cat = self.world.catalogue
        has = b.prod >= 0
        code = np.where(has, b.prod * len(DISCOUNTS) + b.disc, 0)
        pid = np.where(has, cat.ids[np.where(has, b.prod, 0)], None)
        price = np.where(has, cat.paid.ravel()[code], None)
        review = b.etype == REVIEW
        return {
            "user_id": self.world.population.ids[b.user].tolist(),
            "event_type": _TYPE_TEXT[b.etype].tolist(),
            "product_id": pid.tolist(),
            "price": price.tolist(),
            "quantity": [q or None for q in b.qty.tolist()],
            "query": np.where(b.etype == SEARCH, b.text, None).tolist(),
            "review_text": np.where(review, b.text, None).tolist(),
            "rating": [r or None for r in b.rating.tolist()],
            "device": _DEVICE_TEXT[b.device].tolist(),
        }


class _JsonlWriter(_Writer):
    supports_malformed = True

    def __init__(self, path: Path, world: _World | None, day: date, compress: bool):
        super().__init__(path, world, day)
        self.sink = _Sink(path, compress)

    def render(self, b: _Batch, eids: np.ndarray, ts: list[str]) -> list[str]:
        cat = self.world.catalogue
        # The part after event_type, in contract order; identical to json.dumps of the row
        # (the generator's strings never need escaping beyond what json.dumps does here).
        tail = np.full(len(b), "", dtype=object)
        has = np.flatnonzero(b.prod >= 0)
        tail[has] = cat.json_tail[b.prod[has] * len(DISCOUNTS) + b.disc[has]]
        q = np.flatnonzero(b.qty > 0)
        tail[q] = tail[q] + _QUANTITY_JSON[b.qty[q]]
        s = np.flatnonzero(b.etype == SEARCH)
        tail[s] = [',"query":' + json.dumps(x) for x in b.text[s]]
        r = np.flatnonzero(b.etype == REVIEW)
        tail[r] = [f'{t},"review_text":{json.dumps(x)},"rating":{k}'
                   for t, x, k in zip(tail[r], b.text[r], b.rating[r].tolist())]
        return [f'{{"event_id":"{e}","ts":"{t}","user_id":"{u}","session_id":"{s}",'
                f'"event_type":"{k}"{x},"device":"{d}"}}'
                for e, t, u, s, k, x, d in zip(
                    self.event_ids(eids), ts, self.world.population.ids[b.user].tolist(),
                    self.session_ids(b.session), _TYPE_TEXT[b.etype].tolist(), tail.tolist(),
                    _DEVICE_TEXT[b.device].tolist())]

    def render_row(self, row: dict[str, Any]) -> str:
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False)

    def render_columns(self, columns: dict[str, list]) -> list[str]:
        # absent fields are left out of the object, as in the demo's lines
        return [self.render_row({k: v for k, v in zip(COLUMNS, row) if v is not None})
                for row in super().render_columns(columns)]

    def write(self, records: list[str]) -> None:
        if records:
            self.sink.write(("\n".join(records) + "\n").encode())

    def close(self) -> None:
        self.sink.close()


class _CsvWriter(_Writer):
    """Records are row tuples (None = empty field); the csv module quotes as needed."""

    def __init__(self, path: Path, world: _World | None, day: date):
        super().__init__(path, world, day)
        self.sink = _Sink(path, compress=False)
        self.sink.write((",".join(COLUMNS) + "\n").encode())

    def render(self, b: _Batch, eids: np.ndarray, ts: list[str]) -> list[tuple]:
        return _row_tuples(self, b, eids, ts)

    def render_row(self, row: dict[str, Any]) -> tuple:
        return tuple(row.get(k) for k in COLUMNS)

    def write(self, records: list[tuple]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(records)
        self.sink.write(buffer.getvalue().encode())

    def close(self) -> None:
        self.sink.close()


def _row_tuples(writer: _Writer, b: _Batch, eids: np.ndarray, ts: list[str]) -> list[tuple]:
    c = writer._columns(b)
    return list(zip(writer.event_ids(eids), ts, c["user_id"], writer.session_ids(b.session),
                    c["event_type"], c["product_id"], c["price"], c["quantity"], c["query"],
                    c["review_text"], c["rating"], c["device"]))


class _ParquetWriter(_Writer):
    ROW_GROUP = 200_000

    def __init__(self, path: Path, world: _World | None, day: date):
        import pyarrow as pa

        super().__init__(path, world, day)
        self.schema = pa.schema([
            (c, pa.float64() if c == "price" else pa.int64() if c in ("quantity", "rating")
             else pa.string()) for c in COLUMNS])
        self.rows: list[tuple] = []
        self.out = None

    def render(self, b: _Batch, eids: np.ndarray, ts: list[str]) -> list[tuple]:
        return _row_tuples(self, b, eids, ts)

    def render_row(self, row: dict[str, Any]) -> tuple:
        return tuple(row.get(k) for k in COLUMNS)

    def write(self, records: list[tuple]) -> None:
        self.rows += records
        if len(self.rows) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows and self.out is not None:
            return
        columns = list(zip(*self.rows)) or [[] for _ in COLUMNS]
        table = pa.Table.from_arrays([pa.array(list(col), type=f.type)
                                      for col, f in zip(columns, self.schema)], schema=self.schema)
        if self.out is None:
            self.out = pq.ParquetWriter(self.path, self.schema)
        self.out.write_table(table)
        self.rows = []

    def close(self) -> None:
        self._flush()
        self.out.close()


def _writer(path: Path, fmt: str, world: _World | None, day: date) -> _Writer:
    if fmt in ("jsonl", "jsonl.gz"):
        return _JsonlWriter(path, world, day, compress=fmt == "jsonl.gz")
    if fmt == "csv":
        return _CsvWriter(path, world, day)
    return _ParquetWriter(path, world, day)


# --------------------------------------------------------------------------- generation


class _World:
    """What stays fixed across days: catalogue, population, parameters."""

    def __init__(self, seed: int, users: int, products: int, days: int, start: date,
                 dirt: DirtRates, drift_from: date | None = None):
        self.seed, self.days, self.start, self.dirt = seed, days, start, dirt
        # index of the first drifted day (may lie beyond the generated days: no drift)
        self.drift_index = (drift_from - start).days if drift_from else None
        self.catalogue = _Catalogue(_rng(seed, 1), products)
        self.population = _Population(_rng(seed, 2), _rng(seed, 4), users, dirt.bot_users, days,
                                      start)
        self.per_session = _expected_events_per_session()
        self.dirt_p = np.array([getattr(dirt, k) for k in DIRT_KINDS], dtype=float)
        # returns scheduled for later days: day -> [(user, product, discount, quantity)]
        self.pending_returns: dict[int, list[tuple[np.ndarray, ...]]] = {}

    def activity_scale(self, day: int, events_per_day: int | None) -> float:
        """Multiplier of the session rate that gives the day about events_per_day lines."""
        if not events_per_day:
            return 1.0
        pop = self.population
        base = float((pop.activity(day) * _A["sessions"][pop.arch]
                      * self.per_session[pop.arch]).sum())
        bots = pop.bots * sum(BOT_EVENTS) / 2
        humans = max(0.0, events_per_day - bots) / (1 + self.dirt_p.sum())
        return humans / base if base > 0 else 1.0


class _Day:
    """One day: sessions in start-time order, generated and written a chunk at a time."""

    def __init__(self, world: _World, index: int, writer: _Writer, scale: float):
        self.world, self.index, self.writer = world, index, writer
        self.day = world.start + timedelta(days=index)
        self.rng = _rng(world.seed, 100, index, 0)
        self.dirt_rng = _rng(world.seed, 100, index, 1)  # dirt draws on its own stream
        self.scale = scale
        self.drifted = world.drift_index is not None and index >= world.drift_index
        self.next_id = 1
        self.recent: deque = deque(maxlen=DUPLICATE_WINDOW)  # clean human records
        self.counts: dict[str, Any] = {"date": self.day.isoformat(), "lines": 0,
                                       "clean_events": 0, **dict.fromkeys(DIRT_KINDS, 0),
                                       "bot_events": 0}

    # ---- the day's sessions

    def _session_starts(self, users: np.ndarray) -> np.ndarray:
        """Start times (ms) drawn from each user's habitual hours."""
        pop, rng = self.world.population, self.rng
        n = len(users)
        peak = np.where(rng.random(n) < pop.w2[users], pop.peak2[users], pop.peak1[users])
        hours = (peak + rng.standard_normal(n) * pop.spread[users]) % 24.0
        return np.minimum((hours * 3_600_000).astype(np.int64), DAY_MS - 1)

    def _plan(self) -> tuple[np.ndarray, ...]:
        """All sessions of the day: kind (0 human, 1 bot burst, 2 return), user, start, aux
        (burst size or index into the day's returns), sorted by start."""
        world, rng, pop = self.world, self.rng, self.world.population
        # Expected sessions are p * scale * mean sessions of an active day. Scaling down
        # makes users less often active; scaling up makes them more often active, as if the
        # day had `scale` chances, and busier (fewer, busier users would make the day's
        # volume swing with who happens to be active).
        p, s = pop.activity(self.index), self.scale
        p_day = p * s if s <= 1 else 1 - (1 - p) ** s
        mean = np.divide(p * s * _A["sessions"][pop.arch], p_day, out=np.ones(pop.n),
                         where=p_day > 0)
        active = rng.random(pop.n) < p_day
        n_sessions = np.where(active, 1 + rng.poisson(np.maximum(mean - 1, 0)), 0)
        human = np.repeat(np.arange(pop.n), n_sessions)

        bot_user, bot_size = [], []
        for b in range(pop.bots):
            total = int(rng.integers(BOT_EVENTS[0], BOT_EVENTS[1] + 1))
            sizes = rng.integers(120, 401, total // 120 + 1)
            sizes = sizes[: np.searchsorted(np.cumsum(sizes), total) + 1]
            sizes[-1] -= sizes.sum() - total
            bot_user += [pop.n + b] * len(sizes)
            bot_size += sizes.tolist()
        bot_user_a = np.array(bot_user, dtype=np.int64)
        bot_start = rng.integers(0, DAY_MS - 401 * 900, len(bot_user_a))

        due = world.pending_returns.pop(self.index, [])
        self.returns = tuple(np.concatenate(cols) for cols in zip(*due)) if due else None
        ret_user = self.returns[0] if due else np.empty(0, np.int64)

        kind = np.concatenate([np.zeros(len(human), np.int8), np.ones(len(bot_user_a), np.int8),
                               np.full(len(ret_user), 2, np.int8)])
        user = np.concatenate([human, bot_user_a, ret_user])
        start = np.concatenate([self._session_starts(human), bot_start,
                                self._session_starts(ret_user)])
        aux = np.concatenate([np.zeros(len(human), np.int64), np.array(bot_size, np.int64),
                              np.arange(len(ret_user))])
        order = np.argsort(start, kind="stable")
        return kind[order], user[order], start[order], aux[order]

    # ---- events of a chunk of sessions

    def _human(self, sess: np.ndarray, users: np.ndarray, start: np.ndarray) -> _Batch:
        rng, pop, cat = self.rng, self.world.population, self.world.catalogue
        n = len(users)
        arch = pop.arch[users]
        views = np.maximum(1, rng.poisson(_A["views"][arch]))
        searched = rng.random(n) < _A["p_search"][arch]
        cat_cum = pop.cat_cum_drifted if self.drifted else pop.cat_cum
        s_cat = _pick_cumulative(rng, cat_cum[users])
        s_device = np.where(rng.random(n) < 0.85, pop.device[users],
                            rng.integers(0, len(DEVICES), n))

        # product views: mostly in the session's category, occasionally elsewhere
        vs = np.repeat(np.arange(n), views)
        vu, va = users[vs], arch[vs]
        nv = len(vs)
        first = np.zeros(nv, dtype=bool)
        first[np.cumsum(views) - views] = True  # a search leads to its category
        other = _pick_cumulative(rng, cat_cum[vu])
        v_cat = np.where(first | (rng.random(nv) < 0.75), s_cat[vs], other)
        v_brand = _pick_cumulative(rng, pop.brand_cum[vu, v_cat])
        use_brand = rng.random(nv) < _A["p_brand"][va]
        shift = DRIFT_PRICE_POS_SHIFT if self.drifted else 0.0
        pos = np.clip(pop.price_pos[vu] + shift + rng.normal(0, 0.12, nv), 0.0, 0.9999)
        prod = cat.pick(v_cat, v_brand, use_brand, pos)
        disc = rng.choice(len(DISCOUNTS), nv, p=DISCOUNT_WEIGHTS)

        # funnel: bargain hunters are twice as keen on promoted items
        p_cart = _A["p_cart"][va] * np.where((disc > 0) & (va == BARGAIN), 2.0, 1.0)
        cart = rng.random(nv) < p_cart
        buy = cart & (rng.random(nv) < _A["p_buy"][va])
        review = buy & (rng.random(nv) < _A["p_review"][va])
        returned = buy & (rng.random(nv) < P_RETURN)
        qty = np.where(rng.random(nv) < 0.8, 1, rng.integers(2, 4, nv))
        rating = np.clip(np.rint(cat.quality[prod] + rng.normal(0, 0.9, nv)), 1, 5).astype(np.int8)
        self._schedule_returns(vu[returned], prod[returned], disc[returned], qty[returned])

        # a view unfolds into view [, cart [, purchase [, review]]]
        steps = 1 + cart.astype(np.int64) + buy + review
        ev = np.repeat(np.arange(nv), steps)
        stage = np.arange(len(ev)) - np.repeat(np.cumsum(steps) - steps, steps)
        etype = stage.astype(np.int8)  # VIEW, CART, PURCHASE, REVIEW in that order
        v_text = np.full(nv, None, dtype=object)
        r = np.flatnonzero(review)
        v_text[r] = self._review_texts(prod[r], rating[r])
        is_qty = (etype == CART) | (etype == PURCHASE)
        is_review = etype == REVIEW
        viewed = _new_batch(
            0, vu[ev], vs[ev], etype, prod[ev], disc[ev], np.where(is_qty, qty[ev], 0),
            np.where(is_review, rating[ev], 0), np.where(is_review, v_text[ev], None),
            s_device[vs[ev]])

        ss = np.flatnonzero(searched)
        searches = _new_batch(0, users[ss], ss, SEARCH, -1, 0, 0, 0,
                              self._queries(users[ss], s_cat[ss]), s_device[ss])
        # searches first within their session; the view events are already in session order
        b = _Batch.concat([searches, viewed])
        b = b.take(np.argsort(b.session, kind="stable"))

        # time: the session's start plus 4 s .. 2.5 min between events, the whole session
        # moved earlier where it would run past midnight
        gap = rng.integers(4_000, 150_000, len(b))
        first_event = np.r_[True, b.session[1:] != b.session[:-1]]
        gap[first_event] = 0
        elapsed = np.cumsum(gap)
        elapsed -= np.repeat(elapsed[first_event], np.diff(np.r_[np.flatnonzero(first_event),
                                                                    len(b)]))
        duration = np.zeros(n, dtype=np.int64)
        last_event = np.r_[first_event[1:], True]
        duration[b.session[last_event]] = elapsed[last_event]
        latest = DAY_MS - 1 - duration - rng.integers(0, 900_000, n)  # end before midnight
        begin = np.where(start + duration < DAY_MS, start, np.maximum(latest, 0))
        b.t = begin[b.session] + elapsed
        b.session = sess[b.session]
        return b

    def _schedule_returns(self, users, prods, discs, qtys) -> None:
        if not len(users):
            return
        due = self.index + self.rng.integers(1, 8, len(users))
        for d in np.unique(due):
            if d < self.world.days:
                m = due == d
                self.world.pending_returns.setdefault(int(d), []).append(
                    (users[m], prods[m], discs[m], qtys[m]))

    def _queries(self, users: np.ndarray, cats: np.ndarray) -> np.ndarray:
        """Search text in the vocabulary of the category the user has in mind; as in real
        search logs, some queries name only a brand and some carry a typo."""
        rng, pop = self.rng, self.world.population
        n = len(users)
        style = rng.random(n)
        draws = zip(cats.tolist(), rng.integers(0, 8, n).tolist(), rng.integers(0, 8, n).tolist(),
                    (rng.random(n) < 0.8).tolist(), (rng.random(n) < 0.35).tolist(),
                    (rng.random(n) < 0.5).tolist(), rng.integers(0, 12, n).tolist(),
                    pop.favourite_brand[users, cats].tolist(), pop.arch[users].tolist(),
                    (style < BRAND_ONLY_QUERIES).tolist(),
                    (style > 1 - TYPO_QUERIES).tolist(), rng.integers(0, 1 << 16, n).tolist())
        out = np.empty(n, dtype=object)
        for i, (c, adj, noun, with_adj, with_brand, with_prefix, pick, brand, arch, brand_only,
                typo, where) in enumerate(draws):
            spec = CATEGORIES[CATEGORY_NAMES[c]]
            if brand_only:
                out[i] = spec["brands"][brand].lower()
                continue
            words = [_typo(spec["nouns"][noun], where) if typo else spec["nouns"][noun]]
            if with_adj:
                words.insert(0, spec["adjectives"][adj])
            if with_brand:
                words.append(spec["brands"][brand].lower())
            prefixes = SEARCH_PREFIXES.get(ARCHETYPE_NAMES[arch])
            if prefixes and with_prefix:
                words.insert(0, prefixes[pick % len(prefixes)])
            out[i] = " ".join(words)
        return out

    def _review_texts(self, prods: np.ndarray, ratings: np.ndarray) -> list[str]:
        rng, cat = self.rng, self.world.catalogue
        n = len(prods)
        draws = zip(ratings.tolist(), cat.cat[prods].tolist(), cat.noun[prods].tolist(),
                    cat.brand[prods].tolist(), rng.integers(0, 60, (n, 3)).tolist())
        out = []
        for rating, c, noun, brand, (p_open, p_detail, p_word) in draws:
            sentiment = "negative" if rating <= 2 else "mixed" if rating == 3 else "positive"
            spec = CATEGORIES[CATEGORY_NAMES[c]]
            feature = spec["features"][p_word % len(spec["features"])]
            words = {"noun": spec["nouns"][noun], "brand": spec["brands"][brand],
                     "Feature": feature[0].upper() + feature[1:],
                     "use": spec["uses"][p_word % len(spec["uses"])]}
            openers, details = REVIEW_OPENERS[sentiment], REVIEW_DETAILS[sentiment]
            out.append(openers[p_open % len(openers)].format(**words) + " "
                       + details[p_detail % len(details)].format(**words))
        return out

    def _bots(self, sess: np.ndarray, users: np.ndarray, start: np.ndarray,
              sizes: np.ndarray) -> _Batch:
        """Bursts of views 0.25-0.9 s apart (about 100 a minute) across the catalogue."""
        rng = self.rng
        burst = np.repeat(np.arange(len(users)), sizes)
        gap = rng.integers(250, 900, len(burst))
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        gap[first] = 0
        elapsed = np.cumsum(gap)
        elapsed -= np.repeat(elapsed[first], sizes)
        prod = rng.integers(0, self.world.catalogue.n, len(burst))
        return _new_batch(start[burst] + elapsed, users[burst], sess[burst], VIEW, prod, 0, 0, 0,
                          None, DEVICES.index("desktop"))

    def _returns(self, sess: np.ndarray, start: np.ndarray, ref: np.ndarray) -> _Batch:
        users, prods, discs, qtys = (col[ref] for col in self.returns)
        return _new_batch(start, users, sess, RETURN, prods, discs, qtys, 0, None,
                          self.world.population.device[users])

    # ---- dirt

    def _dirt(self, b: _Batch, human: np.ndarray) -> tuple[np.ndarray, ...]:
        """Which clean human events get a dirty neighbour: positions, kinds, each position's
        rank among the chunk's human events (for picking duplicates) and uniforms for the
        details (drawn together: per-line generator calls are slow)."""
        rng, p = self.dirt_rng, self.world.dirt_p
        total = p.sum()
        if total <= 0 or not len(human):
            return (np.empty(0, np.int64),) * 3 + (np.empty((0, 3)),)
        rank = np.flatnonzero(rng.random(len(human)) < total)
        kinds = rng.choice(len(DIRT_KINDS), len(rank), p=p / total)
        uniforms = rng.random((len(rank), 3))
        pos = human[rank]
        # kinds that this event or format cannot carry are not planted (and not counted)
        ok = ~(np.isin(kinds, list(_PRICED_KINDS)) & (b.prod[pos] < 0))
        if not self.writer.supports_malformed:
            ok &= kinds != _MALFORMED
        return pos[ok], kinds[ok], rank[ok], uniforms[ok]

    def _row(self, b: _Batch, i: int, event_id: int, ts: str) -> dict[str, Any]:
        world = self.world
        etype = int(b.etype[i])
        row: dict[str, Any] = {
            "event_id": f"{self.writer.event_prefix}{event_id:07d}", "ts": ts,
            "user_id": str(world.population.ids[b.user[i]]),
            "session_id": f"{self.writer.session_prefix}{int(b.session[i]):06d}",
            "event_type": TYPE_NAMES[etype]}
        if b.prod[i] >= 0:
            row["product_id"] = str(world.catalogue.ids[b.prod[i]])
            row["price"] = float(world.catalogue.paid[b.prod[i], b.disc[i]])
        if b.qty[i]:
            row["quantity"] = int(b.qty[i])
        if etype == SEARCH:
            row["query"] = b.text[i]
        if etype == REVIEW:
            row["review_text"] = b.text[i]
            row["rating"] = int(b.rating[i])
        row["device"] = DEVICES[b.device[i]]
        return row

    def _dirty_record(self, kind: int, row: dict[str, Any], u: list[float]) -> Any:
        """The dirty line of a kind made from a clean row; u: three uniforms for details."""
        name = DIRT_KINDS[kind]
        if name == "missing_user":
            form = int(u[0] * 3)
            if form == 0:
                del row["user_id"]
            else:
                row["user_id"] = None if form == 1 else ""
        elif name == "unknown_type":
            row["event_type"] = UNKNOWN_TYPES[int(u[0] * len(UNKNOWN_TYPES))]
        elif name == "negative_price":
            row["price"] = -row["price"]
        elif name == "absurd_price":
            row["price"] = round(row["price"] * 1000, 2)
        elif name in ("future_ts", "wrong_day"):
            if name == "future_ts":  # the same date in 2099 (which has no 29 February)
                day = datetime(2099, self.day.month, min(self.day.day, 28), tzinfo=UTC)
            else:  # the previous UTC day: the next one could still be in the future
                day = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
                day -= timedelta(days=1)
            when = day + timedelta(milliseconds=int(u[0] * DAY_MS))
            style = int(np.searchsorted(np.cumsum(TS_STYLE_WEIGHTS), u[1], side="right"))
            row["ts"] = _format_instant(when, min(style, len(TS_STYLE_WEIGHTS) - 1),
                                        int(u[2] * len(OFFSET_MINUTES)))
        elif name == "malformed":
            text = self.writer.render_row(row)
            form = int(u[0] * 10)
            if form < 7:  # cut off mid-object (8 chars to all but the last 2), as by a crash
                return text[: 8 + int(u[1] * (len(text) - 9))]
            if form < 9:  # an error page where the payload should be
                return ["<html><body>502 Bad Gateway</body></html>",
                        "upstream request timeout"][form - 7]
            return str(row)  # a Python repr: single quotes, not JSON
        return self.writer.render_row(row)

    # ---- a chunk end to end

    def _chunk(self, kind, user, start, aux, sess) -> None:
        parts = []
        h = kind == 0
        if h.any():
            parts.append(self._human(sess[h], user[h], start[h]))
        b_ = kind == 1
        if b_.any():
            parts.append(self._bots(sess[b_], user[b_], start[b_], aux[b_]))
        r = kind == 2
        if r.any():
            parts.append(self._returns(sess[r], start[r], aux[r]))
        b = _Batch.concat(parts)
        b = b.take(np.argsort(b.t, kind="stable"))  # mostly chronological files
        n = len(b)
        n_humans = self.world.population.n
        human = np.flatnonzero(b.user < n_humans)

        pos, kinds, rank, uniforms = self._dirt(b, human)
        # ids in file order: a dirty line (not a duplicate) takes the id after its template's
        takes_id = np.zeros(n, dtype=np.int64)
        takes_id[pos[kinds != _DUPLICATE]] = 1
        eids = self.next_id + np.arange(n) + np.cumsum(takes_id) - takes_id
        self.next_id += n + int(takes_id.sum())

        style = self.rng.choice(len(TS_STYLE_WEIGHTS), n, p=TS_STYLE_WEIGHTS)
        offset = self.rng.integers(0, len(OFFSET_MINUTES), n)
        ts = _format_day_ts(self.day, b.t, style, offset)
        records = self.writer.render(b, eids, ts)

        out: list[Any] = []
        done = 0
        recent = self.recent
        for p, k, j, u in zip(pos.tolist(), kinds.tolist(), rank.tolist(), uniforms.tolist()):
            out += records[done: p + 1]
            done = p + 1
            if k == _DUPLICATE:
                # one of the last DUPLICATE_WINDOW clean human lines, this one included
                back = int(u[0] * min(DUPLICATE_WINDOW, len(recent) + j + 1))
                src = j - back
                out.append(records[human[src]] if src >= 0 else recent[src])
            else:
                row = self._row(b, p, int(eids[p]) + 1, ts[p])
                out.append(self._dirty_record(k, row, u))
            self.counts[DIRT_KINDS[k]] += 1
        out += records[done:]
        self.writer.write(out)
        recent.extend(records[i] for i in human[-DUPLICATE_WINDOW:].tolist())
        self.counts["lines"] += len(out)
        self.counts["clean_events"] += len(human)
        self.counts["bot_events"] += n - len(human)

    def run(self) -> dict[str, Any]:
        kind, user, start, aux = self._plan()
        sess = np.arange(1, len(kind) + 1)
        for lo in range(0, len(kind), CHUNK_SESSIONS):
            hi = lo + CHUNK_SESSIONS
            self._chunk(kind[lo:hi], user[lo:hi], start[lo:hi], aux[lo:hi], sess[lo:hi])
        return self.counts


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_snapshots(landing: Path, products: list[list[Any]], users: list[list[Any]]) -> None:
    """The product and registration snapshots in the layout raw_products / raw_users read."""
    _write_csv(landing / "products" / "products.csv",
               ["product_id", "title", "description", "category", "brand", "price"], products)
    _write_csv(landing / "users" / "users.csv",
               ["user_id", "signup_date", "age", "gender", "city", "email", "phone"], users)


def generate(data_dir: Path, *, users: int = 2000, products: int = 300, days: int = 14,
             start: date = date(2026, 10, 1), seed: int = 7, dirt: DirtRates = DirtRates(),
             events_per_day: int | None = None, fmt: str = "jsonl.gz",
             drift_from: date | None = None,
             progress: Callable[[str], None] | None = None) -> dict:
    """Write the demo landing files and ground truth under data_dir; returns the summary
    (also written to ground_truth/summary.json).

    drift_from, if given, is the first day whose users prefer other categories and dearer
    products (see DRIFT_*); the days before it are the same as without drift.

    events_per_day, if given, scales activity so that each day holds about that many lines;
    otherwise an active user averages about 8 events a day.

    progress gets a line per day; a ``terminal.Bar`` moves on a day at a time with it.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if users < 1 or products < N_CATEGORIES or days < 1:
        raise ValueError(f"need users >= 1, products >= {N_CATEGORIES} and days >= 1")
    rates = [getattr(dirt, k) for k in DIRT_KINDS]
    if min(rates) < 0 or sum(rates) >= 1 or dirt.bot_users < 0:
        raise ValueError(f"dirt rates must be >= 0 and sum to less than 1: {dirt}")
    bot_volume = dirt.bot_users * sum(BOT_EVENTS) / 2
    if events_per_day is not None and events_per_day <= bot_volume:
        raise ValueError(f"events_per_day={events_per_day} leaves no room for human events next "
                         f"to {dirt.bot_users} bots (~{bot_volume:,.0f} events a day); ask for "
                         "more events or fewer bots (a lower dirt scale)")
    data_dir = Path(data_dir)
    world = _World(seed, users, products, days, start, dirt, drift_from)

    landing = data_dir / "landing"
    _write_snapshots(landing, world.catalogue.rows(),
                     world.population.registration_rows(_rng(seed, 3), start))
    _write_csv(data_dir / "ground_truth" / "users.csv",
               ["user_id", "archetype", "is_bot", "category_prefs", "leave_date"],
               world.population.truth_rows())

    summary: dict[str, Any] = {
        "params": {"users": users, "products": products, "days": days, "start": start.isoformat(),
                   "seed": seed, "events_per_day": events_per_day, "format": fmt,
                   "dirt": asdict(dirt),
                   "drift_from": drift_from.isoformat() if drift_from else None},
        "days": [],
    }
    for index in range(days):
        day = start + timedelta(days=index)
        folder = landing / "events" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("events.*"):
            old.unlink()  # a rerun in another format must not leave the old file beside it
        started = time.perf_counter()
        writer = _writer(folder / f"events.{fmt}", fmt, world, day)
        try:
            counts = _Day(world, index, writer, world.activity_scale(index, events_per_day)).run()
        finally:
            writer.close()
        summary["days"].append(counts)
        dirty = sum(counts[k] for k in DIRT_KINDS)
        report(progress, f"{day}: {counts['lines']:,} lines ({counts['clean_events']:,} clean, "
                         f"{counts['bot_events']:,} bot, {dirty:,} dirty) "
                         f"in {time.perf_counter() - started:.1f}s",
               advance=1, rows=counts["lines"])
    truth = data_dir / "ground_truth" / "summary.json"
    truth.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


# --------------------------------------------------------------------------- orders profile
#
# An order-line export in the style of the public "Online Retail" data: one line per product
# of an invoice, purchases and returns only; no browsing, searches, reviews, categories or
# brands. It keeps testable what such exports bring to the pipeline: closed days (no landing
# folder at all), heavy re-ordering, wholesale invoices whose many lines share one minute,
# customers without a registration row and lines without a customer.

PROFILES = {
    "demo": "a web-shop event log: views, carts, purchases, returns, searches and reviews of "
            "users with planted archetypes, a catalogue with categories and brands, bots and "
            "planted dirt (the default)",
    "orders": "an order-line export like 'Online Retail': invoice lines only (purchase, "
              "return), wholesale and retail customers who mostly re-order what they bought "
              "before, ~2% of lines without a customer, the shop closed on Saturdays and "
              "24 Dec - 1 Jan (no landing folder), no categories, brands or reviews",
}

# Product descriptions: [size] [colour] style thing, e.g. "WHITE HANGING HEART T-LIGHT
# HOLDER". Things belong to a theme (never written: it only shapes customers' tastes, as a
# gift shop stocks some lines and not others) and carry a typical unit price in GBP.
ORDER_THEMES: dict[str, list[tuple[str, float]]] = {
    "home": [("T-LIGHT HOLDER", 2.95), ("LANTERN", 4.95), ("PHOTO FRAME", 3.75),
             ("CUSHION COVER", 3.75), ("DOORSTOP", 4.25), ("WALL CLOCK", 8.5), ("MIRROR", 6.95),
             ("CANDLE", 1.25), ("COAT HANGER", 1.65)],
    "kitchen": [("MUG", 1.25), ("TEA TOWEL", 0.85), ("CAKE CASES", 0.55), ("LUNCH BOX", 1.95),
                ("JAM JAR", 0.85), ("CAKE TIN", 4.95), ("TEACUP AND SAUCER", 2.95),
                ("MILK JUG", 2.1), ("APRON", 2.95)],
    "party": [("PARTY BUNTING", 4.95), ("PAPER NAPKINS", 0.85), ("PAPER CHAIN KIT", 2.95),
              ("PARTY BAG", 0.42), ("BIRTHDAY CARD", 0.42), ("BALLOONS", 0.65),
              ("PAPER PLATES", 0.85)],
    "christmas": [("CHRISTMAS DECORATION", 0.85), ("ADVENT CALENDAR", 2.95),
                  ("STAR GARLAND", 1.65), ("BAUBLE", 0.65), ("CHRISTMAS STOCKING", 2.55),
                  ("TREE TOPPER", 2.1)],
    "garden": [("WATERING CAN", 1.65), ("PLANT POT", 1.25), ("BIRD HOUSE", 3.75),
               ("GARDEN MARKER", 0.85), ("PLANT CAGE", 2.1), ("HAND TROWEL", 1.95)],
    "bags": [("JUMBO BAG", 1.95), ("SHOPPER BAG", 2.1), ("WASHBAG", 2.55), ("PURSE", 1.65),
             ("CHARLOTTE BAG", 0.85), ("LUNCH BAG", 1.65)],
    "stationery": [("NOTEBOOK", 1.65), ("GIFT WRAP", 0.42), ("PENCIL CASE", 1.25),
                   ("GREETING CARD", 0.42), ("STICKER SHEET", 0.85), ("RIBBON REEL", 1.65)],
    "toys": [("JIGSAW", 2.95), ("SKIPPING ROPE", 1.45), ("SPINNING TOP", 0.85),
             ("PLAYING CARDS", 1.25), ("SNAKES AND LADDERS", 3.75), ("SKITTLES", 2.1)],
}
ORDER_COLOURS = ["WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "CREAM", "BLACK", "GOLD",
                 "SILVER", "PURPLE", "YELLOW"]
ORDER_STYLES = ["HANGING HEART", "VINTAGE", "RETROSPOT", "REGENCY", "PAISLEY", "FLORAL",
                "POLKADOT", "SPACEBOY", "WOODLAND", "STRAWBERRY", "BIRD", "STAR", "LOVE",
                "ENGLISH ROSE", "DOILY", "GINGHAM"]
ORDER_SIZES = [("", 1.0), ("SMALL ", 0.7), ("LARGE ", 1.4), ("JUMBO ", 1.8), ("SET OF 3 ", 2.4),
               ("SET OF 6 ", 4.2)]
ORDER_SIZE_WEIGHTS = np.array([0.6, 0.1, 0.1, 0.06, 0.09, 0.05])
_THINGS = [(t, name, price) for t, items in enumerate(ORDER_THEMES.values())
           for name, price in items]
N_THEMES = len(ORDER_THEMES)
POPULARITY_EXPONENT = 0.6  # Zipf exponent of global product popularity

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Relative volume by weekday (Thursday busiest, Sunday quiet, as in the real export) and a
# pre-Christmas peak around mid-November.
WEEKDAY_VOLUME = np.array([1.0, 1.05, 1.05, 1.2, 0.85, 0.6, 0.7])
SEASON_PEAK_DOY, SEASON_WIDTH, SEASON_LIFT = 320, 30.0, 0.6
CLOSED_SEASON = ((12, 24), (1, 1))  # closed from Dec 24 to Jan 1, inclusive
SHOP_ZONE = "Europe/London"
# Opening hours in local minutes [open, close). With a London offset of 0 or +1 h these keep
# every invoice on the same date in UTC as locally, so a day lands in one dt= folder.
OPEN_MINUTES = (8 * 60, 18 * 60)
FIRST_INVOICE = 600_001
FIRST_CUSTOMER = 12_346

WHOLESALE_SHARE = 0.15
WHOLESALE_PACKS = np.array([12, 24, 36, 48, 72, 96, 144])
WHOLESALE_PACK_WEIGHTS = np.array([0.34, 0.24, 0.1, 0.12, 0.08, 0.06, 0.06])
RETAIL_QTY_WEIGHTS = np.array([0.35, 0.25, 0.14, 0.11, 0.08, 0.07])  # 1..6 items
BULK_MIN_QTY, P_BULK_PRICE, BULK_DISCOUNT = 48, 0.5, 0.85
REPERTOIRE = {"wholesale": 300, "retail": 60}  # products a customer may ever buy
FAVOURITE_DECAY = 0.7  # re-order weight of the k-th product a customer took up ~ (k+1)^-decay
P_EXISTING_CUSTOMER = 0.6  # already a customer on the first day; others join during the year
CUSTOMER_LIFETIME_DAYS = 500.0  # mean days from joining to the last possible order
GUEST_LINE_SHARE = 0.02  # lines without a customer id
GUEST_BASKET = 4.0  # mean lines of a guest invoice
P_LINE_RETURNED = 0.025
RETURN_DELAY_DAYS = (3, 36)  # calendar days after the purchase, [low, high)
P_RETURN_ALL = 0.6  # a return gives back the whole line; otherwise part of it
REGISTERED_SHARE = 0.10  # customers with a row in users.csv
LINES_PER_CUSTOMER_DAY = 0.4  # default volume: 4,000 customers -> ~1,600 lines a trading day


def _parse_weekdays(text: str) -> tuple[str, ...]:
    """ "sat,sun" or "Saturday" -> ("sat", "sun") / ("sat",); "" or "none" -> ()."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if words == ["none"]:
        return ()
    full = [f"{d}day" for d in ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")]
    unknown = [w for w in words if w not in WEEKDAYS and w not in full]
    if unknown:
        raise ValueError(f"unknown weekday(s) {unknown}: use {', '.join(WEEKDAYS)} or 'none'")
    return tuple(dict.fromkeys(w[:3] for w in words))  # in the order given, once each


def _is_open(day: date, closed_weekdays: tuple[str, ...]) -> bool:
    (m0, d0), (m1, d1) = CLOSED_SEASON
    in_season = (day.month, day.day) >= (m0, d0) or (day.month, day.day) <= (m1, d1)
    return not in_season and WEEKDAYS[day.weekday()] not in closed_weekdays


def _utc_offset_minutes(day: date) -> int:
    """The shop's UTC offset on a day. Clocks change at 01:00 UTC, before opening, so the
    offset at noon holds for the whole trading day."""
    from zoneinfo import ZoneInfo

    offset = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(SHOP_ZONE)).utcoffset()
    return int(offset.total_seconds()) // 60 if offset else 0


def _day_volume(day: date) -> float:
    """Relative order volume of a day: weekday pattern times the pre-Christmas season."""
    doy = day.timetuple().tm_yday
    season = 1 + SEASON_LIFT * np.exp(-(((doy - SEASON_PEAK_DOY) / SEASON_WIDTH) ** 2))
    return float(WEEKDAY_VOLUME[day.weekday()] * season)


class _OrderCatalogue:
    """Stock codes (colour variants share a number and differ by a letter), upper-case
    descriptions, unit and bulk prices, and two things never written: a theme per product
    and its global popularity (Zipf over a random ranking)."""

    def __init__(self, rng: np.random.Generator, n: int):
        self.n = n
        # families: mostly one product, some 2-4 colour variants ("85123A", "85123B")
        sizes = np.where(rng.random(n) < 0.9, 1, rng.integers(2, 5, n))
        family = np.repeat(np.arange(n), sizes)[:n]
        first = np.r_[True, family[1:] != family[:-1]]
        variant = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
        n_families = int(family[-1]) + 1
        base = rng.choice(np.arange(10_002, max(90_000, 10_002 + 2 * n_families)), n_families,
                          replace=False)
        suffix = np.where(np.bincount(family)[family] > 1, np.array(list("ABCD"))[variant], "")
        self.ids = np.array([f"{b}{s}" for b, s in zip(base[family].tolist(), suffix.tolist())],
                            dtype=object)

        thing = rng.integers(0, len(_THINGS), n_families)[family]
        style = rng.integers(0, len(ORDER_STYLES), n_families)[family]
        size = rng.choice(len(ORDER_SIZES), n_families, p=ORDER_SIZE_WEIGHTS)[family]
        # variants of a family take neighbouring colours; single products often have none
        colour = (rng.integers(0, len(ORDER_COLOURS), n_families)[family] + variant) \
            % len(ORDER_COLOURS)
        coloured = (np.bincount(family)[family] > 1) | (rng.random(n) < 0.6)
        self.descriptions = [
            f"{ORDER_SIZES[z][0]}{ORDER_COLOURS[c] + ' ' if has else ''}{ORDER_STYLES[s]} "
            f"{_THINGS[t][1]}"
            for z, c, has, s, t in zip(size.tolist(), colour.tolist(), coloured.tolist(),
                                       style.tolist(), thing.tolist())]
        self.theme = np.array([_THINGS[t][0] for t in thing.tolist()])

        typical = np.array([p for _, _, p in _THINGS])[thing]
        factor = np.array([f for _, f in ORDER_SIZES])[size]
        raw = typical * factor * np.exp(rng.normal(0.0, 0.25, n_families))[family]
        # shelf prices: 5p steps from a pound, pennies below
        self.price = np.maximum(np.where(raw >= 1, np.round(raw * 20) / 20, np.round(raw, 2)),
                                0.19)
        self.bulk_price = np.maximum(np.round(self.price * BULK_DISCOUNT, 2), 0.1)
        rank = rng.permutation(n)
        self.log_pop = -POPULARITY_EXPONENT * np.log1p(rank)
        self.pop_cum = _cumulative(np.exp(self.log_pop)).astype(np.float64)

    def popular(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """k products drawn from global popularity (with replacement)."""
        return np.minimum(np.searchsorted(self.pop_cum, rng.random(k), side="right"), self.n - 1)

    def rows(self) -> list[list[Any]]:
        # the export has one text per product and no category or brand
        return [[pid, text, text, "", "", repr(float(price))]
                for pid, text, price in zip(self.ids.tolist(), self.descriptions,
                                            self.price.tolist())]


class _Customers:
    """Wholesale and retail customers: how often and how much they order, when they join,
    and a personal repertoire. Each customer's taste list is an ordering of the catalogue
    (global popularity times their themes); the k-th product they ever buy is the k-th on
    that list, so "bought before" is simply a prefix of it (length ``known``)."""

    def __init__(self, rng: np.random.Generator, n: int, catalogue: _OrderCatalogue,
                 open_per_week: int, n_days: int):
        self.n = n
        self.ids = np.array([str(FIRST_CUSTOMER + i) for i in range(n)], dtype=object)
        self.wholesale = rng.random(n) < WHOLESALE_SHARE
        # orders per trading day: wholesale every 1-4 weeks (some weekly), retail a few times
        # a year with a long tail (a few order weekly, many once or never in the year)
        interval = np.clip(rng.lognormal(np.log(10.0), 0.45, n), 5.0, 35.0)
        per_year = np.clip(rng.lognormal(np.log(2.0), 1.2, n), 0.3, 60.0)
        self.rate = np.where(self.wholesale, 7.0 / interval, per_year / 52.0) / open_per_week
        self.basket = np.where(self.wholesale,
                               np.clip(rng.lognormal(np.log(25.0), 0.4, n), 6.0, 80.0),
                               np.clip(rng.lognormal(np.log(4.0), 0.5, n), 1.5, 15.0))
        self.p_reorder = rng.beta(8.0, 2.0, n)  # share of a basket bought before, ~0.8
        self.peak = rng.uniform(9.0 * 60, 16.5 * 60, n)  # habitual ordering time, minutes
        existing = rng.random(n) < P_EXISTING_CUSTOMER
        # day indexes of the first and after the last possible order: customers join and
        # leave all year, so the active base stays about level
        self.join = np.where(existing, 0, rng.integers(0, n_days, n))
        self.leave = self.join + np.ceil(rng.exponential(CUSTOMER_LIFETIME_DAYS, n)).astype(int)
        self.signup = np.where(existing, -rng.integers(30, 1500, n),
                               self.join - rng.integers(0, 15, n))  # days from the start
        self.registered = rng.random(n) < REGISTERED_SHARE
        self.taste_len = np.minimum(
            np.where(self.wholesale, REPERTOIRE["wholesale"], REPERTOIRE["retail"]), catalogue.n)
        self.taste = self._tastes(rng, catalogue)
        self.known = np.zeros(n, dtype=np.int64)

    def _tastes(self, rng: np.random.Generator, cat: _OrderCatalogue) -> np.ndarray:
        """Per customer, the first taste_len products of a weighted draw without replacement
        (Gumbel top-k on log popularity + log theme preference), most wanted first."""
        width = int(self.taste_len.max())
        theme_pref = np.log(rng.dirichlet(np.full(N_THEMES, 0.6), self.n) + 1e-9)
        out = np.empty((self.n, width), dtype=np.int32)
        for lo in range(0, self.n, 512):  # chunks bound the key matrix to a few MB
            hi = min(lo + 512, self.n)
            keys = (cat.log_pop[None, :] + theme_pref[lo:hi][:, cat.theme]
                    + rng.gumbel(size=(hi - lo, cat.n)))
            top = np.argpartition(-keys, width - 1, axis=1)[:, :width]
            order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
            out[lo:hi] = np.take_along_axis(top, order, axis=1)
        return out

    def registration_rows(self, start: date) -> list[list[Any]]:
        """Only a minority registered, and the export knows nothing but a sign-up date."""
        signup = (np.datetime64(start.isoformat()) + self.signup).astype(str)
        return [[self.ids[i], signup[i], "", "", "", "", ""]
                for i in np.flatnonzero(self.registered).tolist()]

    def truth_rows(self) -> list[list[Any]]:
        # the demo's ground-truth header; the archetype is the customer kind, no categories
        kinds = np.where(self.wholesale, "wholesale", "retail")
        return [[uid, kind, "false", ""] for uid, kind in zip(self.ids.tolist(), kinds.tolist())]


@dataclass
class _Lines:
    """Invoice lines as parallel arrays; inv indexes the day's invoices."""

    inv: np.ndarray
    prod: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    etype: np.ndarray


class _OrderBook:
    """Trading days in calendar order. Carries what later days depend on: what each customer
    has bought (their known repertoire), returns falling due, the next invoice number."""

    def __init__(self, seed: int, users: int, products: int, calendar: list[date],
                 is_open: list[bool], closed_weekdays: tuple[str, ...],
                 events_per_day: int | None):
        self.seed, self.calendar = seed, calendar
        self.catalogue = _OrderCatalogue(_rng(seed, 201), products)
        self.customers = _Customers(_rng(seed, 202), users, self.catalogue,
                                    7 - len(closed_weekdays), len(calendar))
        self.next_invoice = FIRST_INVOICE
        self.pending: dict[int, list[tuple[np.ndarray, ...]]] = {}  # day index -> returns
        # the next trading day on or after each calendar day (-1: none left in the window)
        nxt, upcoming = np.full(len(calendar), -1, dtype=np.int64), -1
        for i in range(len(calendar) - 1, -1, -1):
            upcoming = i if is_open[i] else upcoming
            nxt[i] = upcoming
        self.next_open = nxt
        self.lines_per_day = events_per_day or round(LINES_PER_CUSTOMER_DAY * users)
        self.scale = self._scale(is_open)

    def _scale(self, is_open: list[bool]) -> float:
        """Multiplier of every order rate that gives lines_per_day on an average trading day:
        expected customer lines are rate x basket summed over the customers active on a day,
        times the day's volume; guests and returns come on top."""
        c = self.customers
        n = len(self.calendar)
        weight = c.rate * c.basket
        joined = np.cumsum(np.bincount(c.join, weights=weight, minlength=n)
                           - np.bincount(np.minimum(c.leave, n), weights=weight,
                                         minlength=n + 1)[:n])
        volume = np.array([_day_volume(d) for d in self.calendar])
        opened = np.array(is_open)
        expected = float((joined * volume)[opened].sum())
        wanted = (self.lines_per_day * opened.sum() * (1 - GUEST_LINE_SHARE)
                  / (1 + P_LINE_RETURNED))
        return float(wanted / expected) if expected > 0 else 1.0

    # ---- purchases

    def _baskets(self, rng: np.random.Generator, buyers: np.ndarray,
                 mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Invoice (index into buyers) and product of every purchase line, lines of an invoice
        together: mostly products the buyer bought before, the rest new to them."""
        c = self.customers
        known, limit = c.known[buyers], c.taste_len[buyers]
        size = np.minimum(1 + rng.poisson(np.maximum(c.basket[buyers] * mult - 1, 0)), limit)
        again = np.minimum(rng.binomial(size, c.p_reorder[buyers]), known)
        new = np.minimum(size - again, limit - known)
        again = size - new  # when the taste list runs out, the rest are re-orders (<= known)

        # re-orders: distinct earlier products, favourites (taken up first) most often, by
        # weighted sampling without replacement (Gumbel top-k over the known prefix)
        width = int(known.max(initial=0))
        slot = np.arange(width)
        keys = -FAVOURITE_DECAY * np.log1p(slot)[None, :] + rng.gumbel(size=(len(buyers), width))
        keys[slot[None, :] >= known[:, None]] = -np.inf
        ranked = np.argsort(-keys, axis=1, kind="stable")
        take = slot[None, :] < again[:, None]
        inv_again, slot_again = np.nonzero(take)[0], ranked[take]

        # new products: the next ones on the buyer's taste list
        inv_new = np.repeat(np.arange(len(buyers)), new)
        slot_new = np.repeat(known, new) + np.arange(int(new.sum())) - np.repeat(
            np.cumsum(new) - new, new)
        c.known[buyers] = known + new

        inv = np.concatenate([inv_again, inv_new])
        prod = c.taste[buyers[inv], np.concatenate([slot_again, slot_new])].astype(np.int64)
        order = np.lexsort((rng.random(len(inv)), inv))  # re-orders and new lines mixed
        return inv[order], prod[order]

    def _quantities(self, rng: np.random.Generator, wholesale: np.ndarray) -> np.ndarray:
        n = len(wholesale)
        packs = WHOLESALE_PACKS[rng.choice(len(WHOLESALE_PACKS), n, p=WHOLESALE_PACK_WEIGHTS)]
        items = 1 + rng.choice(len(RETAIL_QTY_WEIGHTS), n, p=RETAIL_QTY_WEIGHTS)
        return np.where(wholesale, packs, items)

    def _purchases(self, rng: np.random.Generator, index: int,
                   buyers: np.ndarray, mult: np.ndarray) -> _Lines:
        cat, c = self.catalogue, self.customers
        inv, prod = self._baskets(rng, buyers, mult)
        wholesale = c.wholesale[buyers[inv]]
        qty = self._quantities(rng, wholesale)
        bulk = wholesale & (qty >= BULK_MIN_QTY) & (rng.random(len(inv)) < P_BULK_PRICE)
        price = np.where(bulk, cat.bulk_price[prod], cat.price[prod])

        # some lines come back a few days to weeks later, on the next trading day
        back = np.flatnonzero(rng.random(len(inv)) < P_LINE_RETURNED)
        due = index + rng.integers(*RETURN_DELAY_DAYS, len(back))
        part = rng.integers(1, qty[back] + 1)
        returned = np.where(rng.random(len(back)) < P_RETURN_ALL, qty[back], part)
        inside = due < len(self.calendar)
        day = np.where(inside, self.next_open[np.minimum(due, len(self.calendar) - 1)], -1)
        for d in np.unique(day[day >= 0]).tolist():
            m = back[day == d]
            self.pending.setdefault(d, []).append(
                (buyers[inv[m]], prod[m], price[m], returned[day == d]))
        return _Lines(inv, prod, qty, price, np.full(len(inv), PURCHASE, np.int8))

    def _guests(self, rng: np.random.Generator, n_invoices: int) -> _Lines:
        """Invoices without a customer id: small baskets of popular products."""
        sizes = 1 + rng.poisson(GUEST_BASKET - 1, n_invoices)
        inv = np.repeat(np.arange(n_invoices), sizes)
        prod = self.catalogue.popular(rng, len(inv))
        qty = self._quantities(rng, np.zeros(len(inv), dtype=bool))
        return _Lines(inv, prod, qty, self.catalogue.price[prod],
                      np.full(len(inv), PURCHASE, np.int8))

    def _returns(self, index: int) -> tuple[np.ndarray, _Lines]:
        """Returns due today: one credit note per customer. Returns (customers, lines)."""
        due = self.pending.pop(index, [])
        if not due:
            return np.empty(0, np.int64), _Lines(*(np.empty(0, np.int64),) * 4,
                                                 np.empty(0, np.int8))
        cust, prod, price, qty = (np.concatenate(col) for col in zip(*due))
        customers, inv = np.unique(cust, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        return customers, _Lines(inv[order], prod[order], qty[order], price[order],
                                 np.full(len(inv), RETURN, np.int8))

    # ---- a day

    def day(self, index: int) -> tuple[dict[str, list], dict[str, Any]]:
        """The lines of one trading day as contract columns, and its counts."""
        day = self.calendar[index]
        rng = _rng(self.seed, 203, index)
        c = self.customers
        # Poisson orders, at most one invoice a day: a busier day (scale > 1) means bigger
        # baskets rather than a second invoice from the same customer
        r = self.scale * c.rate * _day_volume(day) * ((c.join <= index) & (index < c.leave))
        p = -np.expm1(-r)
        buyers = np.flatnonzero(rng.random(c.n) < p)
        bought = self._purchases(rng, index, buyers, r[buyers] / p[buyers])
        guest_invoices = rng.poisson(GUEST_LINE_SHARE / (1 - GUEST_LINE_SHARE)
                                     * len(bought.inv) / GUEST_BASKET)
        guests = self._guests(rng, guest_invoices)
        returners, returned = self._returns(index)

        # the day's invoices: customer orders, guest orders (owner -1), credit notes
        owner = np.concatenate([buyers, np.full(guest_invoices, -1), returners])
        credit = np.r_[np.zeros(len(buyers) + guest_invoices, bool), np.ones(len(returners), bool)]
        minute = self._invoice_minutes(rng, owner)
        # invoice numbers follow time, as an invoicing system hands them out
        number = np.empty(len(owner), dtype=np.int64)
        number[np.argsort(minute, kind="stable")] = self.next_invoice + np.arange(len(owner))
        self.next_invoice += len(owner)

        inv = np.concatenate([bought.inv, guests.inv + len(buyers),
                              returned.inv + len(buyers) + guest_invoices])
        order = np.argsort(number[inv], kind="stable")  # lines keep their order in an invoice
        lines = _Lines(inv[order], *(np.concatenate([getattr(part, f) for part in
                                                     (bought, guests, returned)])[order]
                                     for f in ("prod", "qty", "price", "etype")))
        session = np.array([("C" if k else "") + str(v)  # "C": a credit note, as in the export
                            for k, v in zip(credit.tolist(), number.tolist())], dtype=object)
        columns = self._columns(day, lines, owner, session, minute)
        counts = {"date": day.isoformat(), "lines": len(lines.inv),
                  "purchases": int((lines.etype == PURCHASE).sum()),
                  "returns": int((lines.etype == RETURN).sum()),
                  "missing_user": len(guests.inv), "invoices": int((~credit).sum()),
                  "credit_notes": int(credit.sum())}
        return columns, counts

    def _invoice_minutes(self, rng: np.random.Generator, owner: np.ndarray) -> np.ndarray:
        """Local minute of each invoice: around the customer's habitual time, any time of the
        opening hours for guests."""
        habit = self.customers.peak[np.maximum(owner, 0)] + rng.normal(0.0, 75.0, len(owner))
        anytime = rng.uniform(*OPEN_MINUTES, len(owner))
        return np.clip(np.where(owner >= 0, habit, anytime), OPEN_MINUTES[0],
                       OPEN_MINUTES[1] - 1).astype(np.int64)

    def _columns(self, day: date, lines: _Lines, owner: np.ndarray, session: np.ndarray,
                 minute: np.ndarray) -> dict[str, list]:
        """Contract columns of the day's lines (sorted by invoice); every line of an invoice
        has the invoice's number, customer and minute, as in the export."""
        offset = _utc_offset_minutes(day)
        # every instant stays on its local date in UTC, so the day is one dt= folder
        assert ((minute - offset >= 0) & (minute - offset < 1440)).all()
        suffix = _offset_suffix(offset, True)
        ts = np.array([f"{day.isoformat()}T{m // 60:02d}:{m % 60:02d}:00{suffix}"
                       for m in minute.tolist()], dtype=object)
        user = np.append(self.customers.ids, "")[owner]  # -1 (a guest) -> the empty id
        n = len(lines.inv)
        starts = np.flatnonzero(np.r_[True, lines.inv[1:] != lines.inv[:-1]])
        line_no = 1 + np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        return {
            "event_id": [f"INV{s}-{k}" for s, k in zip(session[lines.inv].tolist(),
                                                       line_no.tolist())],
            "ts": ts[lines.inv].tolist(),
            "user_id": user[lines.inv].tolist(),
            "session_id": session[lines.inv].tolist(),
            "event_type": _TYPE_TEXT[lines.etype].tolist(),
            "product_id": self.catalogue.ids[lines.prod].tolist(),
            "price": lines.price.tolist(),
            "quantity": lines.qty.tolist(),
        }


def _clear_day(folder: Path) -> None:
    """A closed day has no landing folder: remove a previous run's files there (and the
    folder once empty) so that a rerun with other closed days leaves no stale day behind."""
    if not folder.is_dir():
        return
    for old in folder.glob("events.*"):
        old.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def generate_orders(data_dir: Path, *, users: int = 4000, products: int = 3500, days: int = 365,
                    start: date = date(2025, 10, 1), seed: int = 7,
                    events_per_day: int | None = None, fmt: str = "csv",
                    closed_weekdays: tuple[str, ...] | str = ("sat",),
                    progress: Callable[[str], None] | None = None) -> dict:
    """Write an order-line export (see PROFILES["orders"]) under data_dir: products, the few
    registrations, one event file per trading day; returns the summary (also written to
    ground_truth/summary.json) with per-day line counts and the closed days.

    days counts calendar days from start; closed days (closed_weekdays and 24 Dec - 1 Jan)
    get no events and no landing folder. events_per_day is the mean number of lines of a
    trading day (default: 0.4 per customer, ~1,600 for 4,000 customers).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if users < 1 or products < 2 or days < 1:
        raise ValueError("need users >= 1, products >= 2 and days >= 1")
    if events_per_day is not None and events_per_day < 1:
        raise ValueError(f"events_per_day must be >= 1, got {events_per_day}")
    if not isinstance(closed_weekdays, str):
        closed_weekdays = ",".join(closed_weekdays)
    closed = _parse_weekdays(closed_weekdays)
    if len(closed) == len(WEEKDAYS):
        raise ValueError("the shop must open on at least one weekday")
    data_dir = Path(data_dir)
    calendar = [start + timedelta(days=i) for i in range(days)]
    is_open = [_is_open(d, closed) for d in calendar]
    book = _OrderBook(seed, users, products, calendar, is_open, closed, events_per_day)

    landing = data_dir / "landing"
    _write_snapshots(landing, book.catalogue.rows(), book.customers.registration_rows(start))
    _write_csv(data_dir / "ground_truth" / "users.csv",
               ["user_id", "archetype", "is_bot", "category_prefs"],
               book.customers.truth_rows())

    summary: dict[str, Any] = {
        "params": {"profile": "orders", "users": users, "products": products, "days": days,
                   "start": start.isoformat(), "seed": seed,
                   "events_per_day": book.lines_per_day, "format": fmt,
                   "closed_weekdays": list(closed),
                   "closed_season": "{:02d}-{:02d}..{:02d}-{:02d}".format(*CLOSED_SEASON[0],
                                                                         *CLOSED_SEASON[1]),
                   "timezone": SHOP_ZONE, "activity_scale": round(book.scale, 6)},
        "days": [],
        "closed_days": [],
    }
    month: dict[str, Any] = {}
    for index, day in enumerate(calendar):
        folder = landing / "events" / f"dt={day.isoformat()}"
        if not is_open[index]:
            _clear_day(folder)
            summary["closed_days"].append(day.isoformat())
        else:
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("events.*"):
                old.unlink()  # a rerun in another format must not leave the old file beside it
            columns, counts = book.day(index)
            writer = _writer(folder / f"events.{fmt}", fmt, None, day)
            try:
                writer.write(writer.render_columns(columns))
            finally:
                writer.close()
            summary["days"].append(counts)
            for k in ("lines", "returns", "missing_user"):
                month[k] = month.get(k, 0) + counts[k]
            month["open"] = month.get("open", 0) + 1
        last_of_month = index == days - 1 or calendar[index + 1].month != day.month
        # a closed day is a day of the calendar done too
        report(progress, advance=1, rows=summary["days"][-1]["lines"] if is_open[index] else 0)
        if last_of_month:
            report(progress, f"{day:%Y-%m}: {month.get('open', 0)} trading days, "
                             f"{month.get('lines', 0):,} lines ({month.get('returns', 0):,} "
                             f"returns, {month.get('missing_user', 0):,} without customer)")
        if last_of_month:
            month = {}
    reached = sum(d["lines"] for d in summary["days"]) / max(len(summary["days"]), 1)
    if progress and summary["days"] and reached < 0.8 * book.lines_per_day:
        # a customer places at most one invoice a day, of products from their repertoire
        progress(f"note: {reached:,.0f} lines a trading day of the {book.lines_per_day:,} asked "
                 "for; more users or products are needed for that volume")
    truth = data_dir / "ground_truth" / "summary.json"
    truth.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


# --------------------------------------------------------------------------- CLI

# Per-profile defaults of the generate options that both profiles take.
CLI_DEFAULTS = {
    # the demo ends yesterday (UTC) unless --start says otherwise: every day is a partition
    "demo": {"users": 2000, "products": 300, "days": 90, "start": None,
             "format": "jsonl.gz"},
    "orders": {"users": 4000, "products": 3500, "days": 365, "start": "2025-10-01",
               "format": "csv"},
}
DEMO_ONLY = {"dirt_scale": "--dirt-scale", "drift_from": "--drift-from"}


def _cli_date(flag: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"generate: {flag} {value!r} is not a date (YYYY-MM-DD)") from None


def _positive() -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
        return value
    return parse


def _cmd_generate(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir or os.environ.get("PROFILING_DATA_DIR") or "data")
    for key, value in CLI_DEFAULTS[args.profile].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.start is None:
        args.start = (datetime.now(UTC).date() - timedelta(days=args.days)).isoformat()
    if args.profile == "orders":
        _generate_orders_command(args, data_dir)
        return
    if args.closed_weekdays is not None:
        raise SystemExit("generate: --closed-weekdays applies to --profile orders only")
    if args.dirt_scale is not None and args.dirt_scale < 0:
        raise SystemExit(f"generate: --dirt-scale must be 0 or more, not {args.dirt_scale}")
    started = time.perf_counter()
    try:
        with Bar("generate", args.days, unit="days", rows_label="lines") as bar:
            summary = generate(
                data_dir, users=args.users, products=args.products, days=args.days,
                start=_cli_date("--start", args.start), seed=args.seed,
                dirt=DirtRates().scaled(1.0 if args.dirt_scale is None else args.dirt_scale),
                events_per_day=args.events_per_day, fmt=args.format, progress=bar,
                drift_from=_cli_date("--drift-from", args.drift_from) if args.drift_from else None,
            )
    except ValueError as exc:  # bad option values: a message, not a traceback
        raise SystemExit(f"generate: {exc}") from None
    seconds = time.perf_counter() - started
    lines = sum(d["lines"] for d in summary["days"])
    events = sum(d["clean_events"] + d["bot_events"] for d in summary["days"])
    print(f"{len(summary['days'])} days, {events:,} events, {lines:,} lines in {seconds:.1f}s "
          f"({events / max(seconds, 1e-9):,.0f} events/s) -> {data_dir / 'landing'}; "
          f"ground truth in {data_dir / 'ground_truth'}")


def _generate_orders_command(args: argparse.Namespace, data_dir: Path) -> None:
    # the export has neither planted dirt nor category preferences to drift
    given = [flag for key, flag in DEMO_ONLY.items() if getattr(args, key) is not None]
    if given:
        raise SystemExit(f"generate: {', '.join(given)} applies to --profile demo only (the "
                         "orders profile has no planted dirt and no categories to drift)")
    closed = "sat" if args.closed_weekdays is None else args.closed_weekdays
    started = time.perf_counter()
    try:
        with Bar("generate", args.days, unit="days", rows_label="lines") as bar:
            summary = generate_orders(
                data_dir, users=args.users, products=args.products, days=args.days,
                start=_cli_date("--start", args.start), seed=args.seed,
                events_per_day=args.events_per_day, fmt=args.format, closed_weekdays=closed,
                progress=bar)
    except ValueError as exc:  # bad option values: a message, not a traceback
        raise SystemExit(f"generate: {exc}") from None
    seconds = time.perf_counter() - started
    days = summary["days"]
    lines = sum(d["lines"] for d in days)
    returns = sum(d["returns"] for d in days)
    missing = sum(d["missing_user"] for d in days)
    print(f"{len(days)} trading days ({len(summary['closed_days'])} closed), {lines:,} lines "
          f"({returns:,} returns, {missing:,} without customer, "
          f"{lines / max(len(days), 1):,.0f} a trading day) in {seconds:.1f}s "
          f"({lines / max(seconds, 1e-9):,.0f} lines/s) -> {data_dir / 'landing'}; "
          f"ground truth in {data_dir / 'ground_truth'}")


def register_cli(subparsers: Any) -> None:
    """Add the ``generate`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "generate", help="write synthetic landing files (demo web shop or order export)",
        description="Generate a deterministic event log (one file per UTC day), users and "
                    "products under DATA_DIR/landing, and what was planted under "
                    "DATA_DIR/ground_truth.")

    def default(key: str) -> str:
        demo, orders = CLI_DEFAULTS["demo"][key], CLI_DEFAULTS["orders"][key]
        return f"default: {demo} for demo, {orders} for orders"

    profiles = "; ".join(f"{name}: {text}" for name, text in PROFILES.items())
    parser.add_argument("--profile", default="demo", choices=list(PROFILES),
                        help=profiles.replace("%", "%%"))
    parser.add_argument("--data-dir", default=None,
                        help="data root (default: $PROFILING_DATA_DIR or ./data)")
    parser.add_argument("--users", type=_positive(), default=None, help=default("users"))
    parser.add_argument("--products", type=_positive(), default=None, help=default("products"))
    parser.add_argument("--days", type=_positive(), default=None,
                        help=f"calendar days from --start (orders: closed days included; "
                             f"{default('days')})")
    parser.add_argument("--start", default=None,
                        help="first day, YYYY-MM-DD (default: demo data ends yesterday, UTC; "
                             f"{CLI_DEFAULTS['orders']['start']} for orders)")
    parser.add_argument("--seed", type=int, default=7,
                        help="random seed: the same seed and options write the same files")
    parser.add_argument("--events-per-day", type=_positive(), default=None,
                        help="scale activity so that each day holds about this many lines "
                             "(demo default: about 8 events per active user; orders: the mean "
                             "over trading days, default 0.4 lines per customer)")
    parser.add_argument("--dirt-scale", type=float, default=None,
                        help="demo only: multiply every dirt rate and the bot count; 0 = clean "
                             "(default 1)")
    parser.add_argument("--format", default=None, choices=FORMATS, help=default("format"))
    parser.add_argument("--drift-from", default=None,
                        help="demo only: first day (YYYY-MM-DD) on which users shift to other "
                             "categories and dearer products")
    parser.add_argument("--closed-weekdays", default=None,
                        help="orders only: weekdays the shop is closed, e.g. 'sat' (default) or "
                             "'sat,sun'; 'none' for open every day (24 Dec - 1 Jan is always "
                             "closed)")
    parser.set_defaults(func=_cmd_generate)
