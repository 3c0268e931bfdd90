"""Which inputs the data offers, and what is empty because of what it lacks.

Real exports rarely carry every signal of the input contract: an order-line export has no
views, carts, searches, reviews or categories; many shops send no user table. Models and
profiles still run on what there is; this module names what was missing so that each asset
can say so in its metadata instead of leaving silently empty columns.
"""

from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb

from profiling_assets import sql


@dataclass(frozen=True)
class Signal:
    name: str        # what the data lacks, in words a user would search the README for
    count: str       # the column of summarize_data_signals that is zero when it is missing
    empty: str       # what stays empty or degrades, and why


# Order matters only for display.
SIGNALS = (
    Signal("categories", "events_with_category",
           "top_categories, top_category, price_ratio_90d, share_below_median_90d and "
           "price_sensitivity are NULL (category medians need categories); segments cannot "
           "use category focus or price level; text interests come from product-text clusters"),
    Signal("brands", "events_with_brand", "top_brands and top_brand are NULL"),
    Signal("views", "views",
           "view_to_cart_90d is NULL; recommendations learn from carts and purchases only"),
    Signal("carts", "carts", "cart_to_purchase_90d is NULL"),
    Signal("purchase prices", "purchases_with_price",
           "revenue_90d, aov_90d and lifetime_value count 0 for unpriced purchases"),
    Signal("reviews", "reviews", "no review texts for interests or encoder training"),
    Signal("ratings", "ratings", "reviews do not weigh recommendations"),
    Signal("searches", "searches", "no query texts for interests or encoder training"),
    Signal("sessions", "events_with_session",
           "the encoder pairs products by user and day instead of by session"),
    Signal("product texts", "products_with_text",
           "no product texts: interest_keywords stay empty unless searches or reviews exist"),
    Signal("registrations", "users_registered",
           "signup_date is NULL; segments measure newness from the first event seen"),
    Signal("demographics", "users_with_demographics", "age_band, gender and city are NULL"),
)


@dataclass
class DataSignals:
    first_day: date
    last_day: date
    counts: dict[str, int]

    @property
    def missing(self) -> list[Signal]:
        """Signals with no row at all; a signal present at all is not reported here."""
        if not self.counts.get("events"):
            return []  # nothing to judge by: an empty window is said elsewhere
        return [s for s in SIGNALS if not self.counts.get(s.count)]

    def names(self) -> list[str]:
        return [s.name for s in self.missing]

    def metadata(self) -> dict:
        """Metadata entries: ``missing_inputs`` (names, or "none") and what each leaves empty."""
        missing = self.missing
        return {
            "missing_inputs": ", ".join(s.name for s in missing) or "none",
            "missing_inputs_effect": dg.MetadataValue.json({s.name: s.empty for s in missing}),
            "input_counts": dg.MetadataValue.json(
                {"window": f"{self.first_day}..{self.last_day}", **self.counts}),
        }


def data_signals(con: duckdb.DuckDBPyConnection, first_day: date, last_day: date) -> DataSignals:
    cur = sql.run(con, "summarize_data_signals", first_day=first_day, last_day=last_day)
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return DataSignals(first_day, last_day, {n: int(v or 0) for n, v in zip(names, row, strict=True)})


def fill_event_signals(con: duckdb.DuckDBPyConnection, *, recount: bool = False) -> None:
    """Count the clean.event_signals rows of the days of clean.events that have none (days
    cleaned before the table existed), or with ``recount`` of every day again (after a forget
    removed events from many days): one scan of those days' events. cleaned_events writes the
    row of each day it builds."""
    if recount:
        sql.run(con, "delete_event_signals")
    first, last = sql.query(con, "select_days_without_signals")[0]
    if first is None:
        return
    sql.run(con, "create_event_signals_macro")
    sql.run(con, "fill_event_signals", first_day=first, last_day=last)
