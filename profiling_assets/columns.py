"""The columns of every warehouse table an asset produces: name, DuckDB type and meaning, in
the table's column order. One source for the asset's declared column schema (the UI's Columns
section) and the README's column tables (tests/test_columns.py compares both with it and with
the tables that sql/create_*.sql makes).

Types are written as DuckDB's ``DESCRIBE`` shows them, without its quotes around field names
that are keywords; `` NOT NULL`` marks a column the table declares NOT NULL. Run
``python -m profiling_assets.columns README.md`` to rewrite the README's profile column table
from here.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

# The warehouse's catalog name (the default file is profiling.duckdb): the first part of every
# table's dagster/table_name, so that the name stays one identifier whatever the file's path.
DATABASE = "profiling"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = True


def _columns(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, type_.removesuffix(" NOT NULL"), description,
                        nullable=not type_.endswith(" NOT NULL"))
                 for name, type_, description in specs)


_TOP_SHARES = "STRUCT(name VARCHAR, share DOUBLE)[]"
_DRIVERS = "STRUCT(target VARCHAR, feature VARCHAR, value DOUBLE, contribution DOUBLE, text VARCHAR)[]"
_LOADED_AT = ("loaded_at", "TIMESTAMP WITH TIME ZONE NOT NULL", "when the row was loaded (UTC)")


RAW_USERS = _columns(
    ("user_id", "VARCHAR NOT NULL", "the user's id as in the event log"),
    ("signup_date", "DATE", "registration date"),
    ("age", "INTEGER", "registered age in years (PII: raw layer only; profiles show an age band)"),
    ("gender", "VARCHAR", "as registered"),
    ("city", "VARCHAR", "as registered"),
    ("email", "VARCHAR", "PII: raw layer only, never selected downstream"),
    ("phone", "VARCHAR", "PII: raw layer only, never selected downstream"),
    ("source_file", "VARCHAR NOT NULL", "the snapshot file the row came from"),
    _LOADED_AT,
)

RAW_PRODUCTS = _columns(
    ("product_id", "VARCHAR NOT NULL", "the product's id as in the event log"),
    ("title", "VARCHAR", "product title"),
    ("description", "VARCHAR", "product description"),
    ("category", "VARCHAR", "catalogue category"),
    ("brand", "VARCHAR", "brand"),
    ("price", "DOUBLE", "list price"),
    ("source_file", "VARCHAR NOT NULL", "the snapshot file the row came from"),
    _LOADED_AT,
)

RAW_EVENTS = _columns(
    ("partition_date", "DATE NOT NULL", "the landing folder's day (dt=...)"),
    ("source_file", "VARCHAR NOT NULL", "the landing file the line came from"),
    ("line_no", "BIGINT NOT NULL", "1-based line (JSONL/CSV) or row (Parquet) in source_file"),
    ("event_id", "VARCHAR NOT NULL", "unique per event; numbers are read as text"),
    ("ts", "TIMESTAMP WITH TIME ZONE NOT NULL", "when the event happened"),
    ("event_date", "DATE NOT NULL", "UTC day of ts; may differ from partition_date"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("session_id", "VARCHAR", "session id, where the source has one"),
    ("event_type", "VARCHAR NOT NULL", "view, cart, purchase, search, review or return (lower case)"),
    ("product_id", "VARCHAR", "the product's id (NULL for searches)"),
    ("price", "DOUBLE", "unit price as received"),
    ("quantity", "INTEGER", "items; a return carries the positive number of items returned"),
    ("query", "VARCHAR", "search text"),
    ("review_text", "VARCHAR", "review text"),
    ("rating", "INTEGER", "review rating 1-5"),
    ("device", "VARCHAR", "device, where the source has one"),
    _LOADED_AT,
)

CLEAN_EVENTS = _columns(
    ("event_date", "DATE NOT NULL", "UTC day; equals the partition"),
    ("event_id", "VARCHAR NOT NULL", "unique within clean.events"),
    ("ts", "TIMESTAMP NOT NULL", "when the event happened (UTC)"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("session_id", "VARCHAR", "session id, where the source has one"),
    ("event_type", "VARCHAR NOT NULL", "view, cart, purchase, search, review or return"),
    ("product_id", "VARCHAR", "the product's id (NULL for searches)"),
    ("in_catalog", "BOOLEAN NOT NULL", "false: product unknown to raw.products (no category or brand)"),
    ("category", "VARCHAR", "the product's catalogue category"),
    ("brand", "VARCHAR", "the product's brand"),
    ("product_title", "VARCHAR", "the product's title"),
    ("price", "DOUBLE", "unit price after the outlier rule"),
    ("raw_price", "DOUBLE", "unit price as received"),
    ("price_flag", "VARCHAR",
     "NULL, 'replaced_by_catalog', 'filled_from_catalog' or 'clamped': what the price rule did"),
    ("quantity", "INTEGER", "items, after clamping"),
    ("quantity_flag", "VARCHAR", "NULL or 'clamped'"),
    ("query", "VARCHAR", "search text"),
    ("review_text", "VARCHAR", "review text"),
    ("rating", "INTEGER", "review rating 1-5"),
    ("device", "VARCHAR", "device, where the source has one"),
    ("source_file", "VARCHAR NOT NULL", "the landing file the event came from"),
    ("line_no", "BIGINT NOT NULL", "its line (or row) in source_file"),
    ("cleaned_at", "TIMESTAMP WITH TIME ZONE NOT NULL", "when the row was cleaned"),
)

USER_DAILY_ACTIVITY = _columns(
    ("activity_date", "DATE NOT NULL", "the UTC day"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("events", "INTEGER NOT NULL", "events of the day"),
    ("views", "INTEGER NOT NULL", "product views"),
    ("carts", "INTEGER NOT NULL", "add-to-cart events"),
    ("purchases", "INTEGER NOT NULL", "purchase events (order lines)"),
    ("orders", "INTEGER NOT NULL", "sessions with at least one purchase"),
    ("returns", "INTEGER NOT NULL", "return events"),
    ("searches", "INTEGER NOT NULL", "searches"),
    ("reviews", "INTEGER NOT NULL", "reviews"),
    ("sessions", "INTEGER NOT NULL", "distinct sessions"),
    ("items_bought", "INTEGER NOT NULL", "items over purchases"),
    ("revenue", "DOUBLE NOT NULL", "sum of price x quantity over purchases"),
    ("refunds", "DOUBLE NOT NULL", "sum of price x quantity over returns"),
    ("distinct_products", "INTEGER NOT NULL", "distinct products touched"),
    ("distinct_categories", "INTEGER NOT NULL", "distinct categories touched"),
    ("active_hours", "INTEGER NOT NULL", "distinct UTC hours with an event"),
    ("first_event_at", "TIMESTAMP NOT NULL", "first event of the day (UTC)"),
    ("last_event_at", "TIMESTAMP NOT NULL", "last event of the day (UTC)"),
    ("events_night", "INTEGER NOT NULL", "events 00-06 UTC"),
    ("events_morning", "INTEGER NOT NULL", "events 06-12 UTC"),
    ("events_afternoon", "INTEGER NOT NULL", "events 12-18 UTC"),
    ("events_evening", "INTEGER NOT NULL", "events 18-24 UTC"),
    ("priced_purchases", "INTEGER NOT NULL", "purchases whose category has a median list price"),
    ("price_ratio_sum", "DOUBLE NOT NULL", "sum of paid price / category median list price"),
    ("purchases_below_median", "INTEGER NOT NULL", "priced purchases below the category median"),
    ("computed_at", "TIMESTAMP WITH TIME ZONE NOT NULL", "when the row was computed"),
)


def _windows(metric: str, meaning: str, type_: str = "INTEGER NOT NULL",
             days: Sequence[int] = (7, 30, 90)) -> list[tuple[str, str, str]]:
    return [(f"{metric}_{d}d", type_, f"{meaning} in the {d} days ending on feature_date")
            for d in days]


USER_FEATURES = _columns(
    ("feature_date", "DATE NOT NULL", "the day the row describes"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("signup_date", "DATE", "registration date (NULL without registration)"),
    ("tenure_days", "INTEGER", "feature_date - signup_date; NULL without registration"),
    ("first_seen_date", "DATE NOT NULL", "first day with activity within the 90-day window"),
    ("last_seen_date", "DATE NOT NULL", "latest day with activity"),
    ("last_purchase_date", "DATE", "latest purchase (NULL: no purchase in the window)"),
    ("days_since_last_visit", "INTEGER NOT NULL", "feature_date - last_seen_date"),
    ("days_since_last_purchase", "INTEGER", "feature_date - last_purchase_date"),
    *_windows("active_days", "days with activity"),
    *_windows("events", "events"),
    *_windows("sessions", "sessions"),
    *_windows("purchases", "purchase events"),
    *_windows("orders", "orders (sessions with a purchase)"),
    *_windows("revenue", "purchase revenue", "DOUBLE NOT NULL"),
    ("refunds_90d", "DOUBLE NOT NULL", "refunded amount in 90 days"),
    ("items_bought_90d", "INTEGER NOT NULL", "items bought in 90 days"),
    ("aov_30d", "DOUBLE", "revenue / orders over 30 days; NULL without orders"),
    ("aov_90d", "DOUBLE", "revenue / orders over 90 days; NULL without orders"),
    ("view_to_cart_90d", "DOUBLE", "carts / views; NULL without views"),
    ("cart_to_purchase_90d", "DOUBLE",
     "purchases / carts; NULL without carts (can exceed 1 when buyers skip the cart)"),
    ("top_categories", _TOP_SHARES, "top 5 categories by 90-day events plus '(other)'; shares sum to 1"),
    ("top_category", "VARCHAR", "the first of top_categories"),
    ("top_category_share", "DOUBLE", "its share of 90-day events"),
    ("top_brands", _TOP_SHARES, "top 5 brands by 90-day events plus '(other)'; shares sum to 1"),
    ("top_brand", "VARCHAR", "the first of top_brands"),
    ("price_ratio_90d", "DOUBLE", "mean paid price / category median list price"),
    ("share_below_median_90d", "DOUBLE", "share of priced purchases below the category median"),
    ("preferred_hour_band", "VARCHAR", "night, morning, afternoon or evening (90-day events, UTC)"),
    ("preferred_weekday", "VARCHAR", "Monday..Sunday (90-day events)"),
    ("rfm_recency", "INTEGER NOT NULL", "quintile score 1-5 (5 best); edges in features.rfm_edges"),
    ("rfm_frequency", "INTEGER NOT NULL", "quintile score 1-5 of orders_90d"),
    ("rfm_monetary", "INTEGER NOT NULL", "quintile score 1-5 of revenue_90d"),
    ("rfm_code", "VARCHAR NOT NULL", "the three scores as a code, e.g. R5F4M3"),
    ("computed_at", "TIMESTAMP WITH TIME ZONE NOT NULL", "when the row was computed"),
)

TEXT_EMBEDDINGS = _columns(
    ("model_version", "VARCHAR NOT NULL", "the text_encoder version that embedded the text"),
    ("text_hash", "VARCHAR NOT NULL", "md5 of the normalised UTF-8 text"),
    ("kind", "VARCHAR NOT NULL", "query, review or product (where first seen)"),
    ("text", "VARCHAR NOT NULL", "the normalised text"),
    ("tokens", "INTEGER NOT NULL", "tokens after truncation to the model's max length"),
    ("embedding", "FLOAT[384] NOT NULL", "the text's embedding, L2-normalised"),
    ("first_seen", "DATE NOT NULL", "the day the text was first embedded by this version"),
    ("embedded_at", "TIMESTAMP NOT NULL", "when it was embedded (UTC)"),
)

USER_TEXT_PROFILE = _columns(
    ("profile_date", "DATE NOT NULL", "the day the row describes"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("model_version", "VARCHAR NOT NULL", "the text_encoder version of the vectors"),
    ("texts", "INTEGER NOT NULL", "distinct texts behind the vector"),
    ("queries", "INTEGER NOT NULL", "of which search queries"),
    ("reviews", "INTEGER NOT NULL", "of which reviews"),
    ("products", "INTEGER NOT NULL", "of which product texts"),
    ("interest", "FLOAT[384] NOT NULL", "recency-weighted mean embedding, L2-normalised"),
    ("top_interests", "VARCHAR[] NOT NULL",
     "nearest category prototypes (or named product-text clusters), closest first"),
    ("top_interest_scores", "FLOAT[] NOT NULL", "their cosine similarities"),
    ("last_text_date", "DATE NOT NULL", "the latest day with a text of the user"),
)

ITEM_FACTORS = _columns(
    ("model_version", "VARCHAR NOT NULL", "the svd_model version"),
    ("product_id", "VARCHAR NOT NULL", "the product's id"),
    ("item_index", "INTEGER NOT NULL", "column of the model's user x item matrix"),
    ("factors", "FLOAT[] NOT NULL", "the item's row of V (right singular vectors), length k"),
    ("users", "INTEGER NOT NULL", "distinct users with positive weight in the window"),
    ("purchasers", "INTEGER NOT NULL", "distinct buyers in the window"),
    ("popularity_rank", "INTEGER NOT NULL", "1 = most bought (the cold-start fallback's order)"),
)

USER_FACTORS = _columns(
    ("factor_date", "DATE NOT NULL", "the day the row describes"),
    ("user_id", "VARCHAR NOT NULL", "an active user of the day the model knows an item of"),
    ("model_version", "VARCHAR NOT NULL", "the production svd_model version folded into"),
    ("factors", "FLOAT[] NOT NULL", "u = r_u V diag(1/sigma), length k"),
    ("known_items", "INTEGER NOT NULL", "items in r_u that the model has factors for"),
    ("unknown_items", "INTEGER NOT NULL", "items in the user's window the model has not seen"),
    ("created_at", "TIMESTAMP NOT NULL", "when the row was written (UTC)"),
)

RECOMMENDATIONS = _columns(
    ("rec_date", "DATE NOT NULL", "the day of the list"),
    ("user_id", "VARCHAR NOT NULL", "the user's id"),
    ("rank", "INTEGER NOT NULL", "1 = best"),
    ("product_id", "VARCHAR NOT NULL", "the recommended product"),
    ("score", "DOUBLE NOT NULL", "n - rank + 1: higher is better"),
    ("source", "VARCHAR NOT NULL", "buy_again, the model (svd, als, item_knn) or popularity"),
    ("model_version", "VARCHAR NOT NULL", "the svd_model version, or 'none' (baseline fallback)"),
    ("created_at", "TIMESTAMP NOT NULL", "when the row was written (UTC)"),
)

SEGMENTS = _columns(
    ("model_version", "VARCHAR NOT NULL", "the segment_model version"),
    ("segment_id", "INTEGER NOT NULL", "stable across refits (matched to the previous version)"),
    ("segment_name", "VARCHAR NOT NULL", "e.g. 'High-value loyal', 'Bargain hunters'"),
    ("description", "VARCHAR NOT NULL", "one line: what sets the segment apart"),
    ("size", "INTEGER NOT NULL", "users in the segment when fitted"),
)

USER_SEGMENTS = _columns(
    ("segment_date", "DATE NOT NULL", "the day the row describes"),
    ("user_id", "VARCHAR NOT NULL", "a user of the day's features.user_features"),
    ("model_version", "VARCHAR NOT NULL", "the production segment_model version"),
    ("segment_id", "INTEGER NOT NULL", "the nearest segment"),
    ("segment_name", "VARCHAR NOT NULL", "its name"),
    ("confidence", "DOUBLE NOT NULL", "0-1, 1 - d1/d2 from the distances to the two nearest centroids"),
)

USER_SCORES = _columns(
    ("score_date", "DATE NOT NULL", "the day the row describes"),
    ("user_id", "VARCHAR NOT NULL", "a user of the day's features.user_features"),
    ("purchase_propensity_14d", "DOUBLE", "calibrated probability of a purchase in the next 14 days"),
    ("purchase_propensity_decile", "INTEGER", "1-10 among the day's scored users (10: highest)"),
    ("churn_risk_30d", "DOUBLE", "calibrated probability of no activity in the next 30 days"),
    ("churn_risk_decile", "INTEGER", "1-10 among the day's scored users (10: highest)"),
    ("expected_spend_90d", "DOUBLE", "predicted net revenue in the next 90 days"),
    ("expected_spend_decile", "INTEGER", "1-10 among the day's scored users (10: highest)"),
    ("score_drivers", _DRIVERS, "top 3 drivers per scored target, largest effect first"),
    ("purchase_model_version", "VARCHAR", "the propensity version behind purchase_propensity_14d"),
    ("churn_model_version", "VARCHAR", "the propensity version behind churn_risk_30d"),
    ("spend_model_version", "VARCHAR", "the propensity version behind expected_spend_90d"),
    ("score_missing_reason", "VARCHAR", "why a score is NULL; NULL when every target is scored"),
    ("computed_at", "TIMESTAMP NOT NULL", "when the row was written (UTC)"),
)

# The README's wording (its table "The profile table" is written from these rows). Columns
# with the same meaning share one README row.
_DECILE = "1–10 among the day's scored users (10: the highest)"
_VERSIONS = "the model versions behind the row's values"
_PROPENSITY_VERSIONS = "the propensity versions behind the scores"
USER_PROFILES = _columns(
    ("profile_date", "DATE NOT NULL", "the day the row describes (UTC)"),
    ("user_id", "VARCHAR NOT NULL", "the user's id as in the event log"),
    ("signup_date", "DATE", "registration date (`raw.users`; NULL without registration)"),
    ("age_band", "VARCHAR", ("`18-24` … `65+` from the registered age; the age itself, email and "
                             "phone stay in `raw.users`")),
    ("gender", "VARCHAR", "as registered"),
    ("city", "VARCHAR", "as registered"),
    ("first_seen_date", "DATE NOT NULL",
     "earliest day with activity in the warehouse's whole history up to the profile day"),
    ("last_seen_date", "DATE NOT NULL", "latest day with activity"),
    ("last_purchase_date", "DATE", "latest purchase in the last 90 days (NULL: none)"),
    ("days_since_last_visit", "INTEGER NOT NULL", "recency in days"),
    ("days_since_last_purchase", "INTEGER", "recency in days"),
    ("orders_90d", "INTEGER NOT NULL", "orders (sessions with a purchase) in 90 days: RFM frequency value"),
    ("revenue_90d", "DOUBLE NOT NULL", "purchase revenue in 90 days: RFM monetary value"),
    ("rfm_recency", "INTEGER NOT NULL", "quintile scores 1–5 (5 best)"),
    ("rfm_frequency", "INTEGER NOT NULL", "quintile scores 1–5 (5 best)"),
    ("rfm_monetary", "INTEGER NOT NULL", "quintile scores 1–5 (5 best)"),
    ("rfm_code", "VARCHAR NOT NULL", "e.g. `R5F4M3`"),
    ("aov_90d", "DOUBLE", "average order value over 90 days"),
    ("lifetime_value", "DOUBLE NOT NULL",
     ("net revenue (purchases − returns) of every day up to the profile day, summed from "
      "`features.user_daily_activity` (never from the previous day's row: the same whatever "
      "order days are built in)")),
    ("lifetime_value_since", "DATE NOT NULL",
     "start of the lifetime sum: the first day of activity the warehouse holds"),
    ("top_categories", _TOP_SHARES, "top 5 by 90-day events plus `(other)`; shares sum to 1"),
    ("top_category", "VARCHAR", "the first of each"),
    ("top_brands", _TOP_SHARES, "top 5 by 90-day events plus `(other)`; shares sum to 1"),
    ("top_brand", "VARCHAR", "the first of each"),
    ("price_ratio_90d", "DOUBLE", "mean paid price ÷ category median list price"),
    ("share_below_median_90d", "DOUBLE", "share of purchases below the category median"),
    ("price_sensitivity", "VARCHAR",
     ("`high` (ratio < 0.85 or ≥ 70% below median), `low` (ratio > 1.15 and ≤ 30% below), else "
      "`medium`; NULL without priced purchases")),
    ("preferred_hour_band", "VARCHAR", "habits over 90 days (UTC)"),
    ("preferred_weekday", "VARCHAR", "habits over 90 days (UTC)"),
    ("segment_id", "INTEGER",
     "segment from the production `segment_model` (ids stable across refits)"),
    ("segment_name", "VARCHAR",
     "segment from the production `segment_model` (ids stable across refits)"),
    ("segment_confidence", "DOUBLE", "0–1, how clearly the user sits in that segment"),
    ("interest_keywords", "VARCHAR[]",
     ("nearest categories of the user's text interest vector, closest first (named product-text "
      "clusters when the data has no categories)")),
    ("recommended_items", "VARCHAR[]",
     ("top-10 product ids, best first, from the user's latest recommendations (every profiled "
      "user gets a fresh list daily)")),
    ("recommendation_source", "VARCHAR",
     ("the sources of the list, sorted and joined: `buy_again`, the model (`svd`, `als`, "
      "`item_knn`), `popularity`, e.g. `buy_again+item_knn`")),
    ("text_encoder_version", "VARCHAR", _VERSIONS),
    ("svd_model_version", "VARCHAR", _VERSIONS),
    ("segment_model_version", "VARCHAR", _VERSIONS),
    ("updated_at", "TIMESTAMP NOT NULL", "when the row was written (UTC)"),
    ("purchase_propensity_14d", "DOUBLE", "calibrated probability of a purchase in the next 14 days"),
    ("purchase_propensity_decile", "INTEGER", _DECILE),
    ("churn_risk_30d", "DOUBLE",
     "calibrated probability of no activity (order-only data: no purchase) in the next 30 days"),
    ("churn_risk_decile", "INTEGER", _DECILE),
    ("expected_spend_90d", "DOUBLE", "predicted net revenue in the next 90 days"),
    ("expected_spend_decile", "INTEGER", _DECILE),
    ("score_drivers", _DRIVERS,
     ("per scored target, the 3 features that move the user's score most, largest first, with "
      "the signed contribution in the score's unit and a sentence")),
    ("score_missing_reason", "VARCHAR",
     ("why a score is NULL (no production model for that target, or the user was first seen "
      "fewer than 7 days ago); NULL when every score is given")),
    ("purchase_model_version", "VARCHAR", _PROPENSITY_VERSIONS),
    ("churn_model_version", "VARCHAR", _PROPENSITY_VERSIONS),
    ("spend_model_version", "VARCHAR", _PROPENSITY_VERSIONS),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "raw.users": RAW_USERS,
    "raw.products": RAW_PRODUCTS,
    "raw.events": RAW_EVENTS,
    "clean.events": CLEAN_EVENTS,
    "features.user_daily_activity": USER_DAILY_ACTIVITY,
    "features.user_features": USER_FEATURES,
    "ml.text_embeddings": TEXT_EMBEDDINGS,
    "ml.user_text_profile": USER_TEXT_PROFILE,
    "ml.item_factors": ITEM_FACTORS,
    "ml.user_factors": USER_FACTORS,
    "ml.recommendations": RECOMMENDATIONS,
    "ml.segments": SEGMENTS,
    "ml.user_segments": USER_SEGMENTS,
    "ml.user_scores": USER_SCORES,
    "profiles.user_profiles_history": USER_PROFILES,
    # each user's latest history row: the same columns (created from the history table)
    "profiles.user_profiles": USER_PROFILES,
}


def column_schema(table: str) -> dg.TableSchema:
    """The Dagster column schema of a warehouse table (``schema.table``)."""
    return dg.TableSchema(columns=[
        dg.TableColumn(name=c.name, type=c.type, description=c.description,
                       constraints=dg.TableColumnConstraints(nullable=c.nullable))
        for c in TABLES[table]])


def table_metadata(table: str) -> dict[str, object]:
    """The definition metadata of an asset that produces ``table`` (``schema.table``): its
    column schema and its fully qualified name, for the UI's Columns section and lineage."""
    return {"dagster/column_schema": column_schema(table),
            "dagster/table_name": f"{DATABASE}.{table}"}


# --------------------------------------------------------------------------- README


README_PROFILE_HEADER = "| column | type | meaning |"


def readme_type(type_: str) -> str:
    """A type as the README writes it: STRUCT field names without their types."""
    return re.sub(r"(\w+) [A-Z][A-Z0-9]*(?:\[\d*\])?(?=[,)])", r"\1", type_)


def readme_rows(columns: Sequence[Column]) -> list[str]:
    """Markdown rows ``| `a`, `b` | TYPE | meaning |``: columns with the same meaning share a
    row, placed where the last of them stands in the table."""
    groups: dict[str, list[Column]] = {}
    last: dict[str, int] = {}
    for i, c in enumerate(columns):
        groups.setdefault(c.description, []).append(c)
        last[c.description] = i
    rows = []
    for description in sorted(groups, key=last.__getitem__):
        members = groups[description]
        types = [readme_type(c.type) for c in members]
        names = ", ".join(f"`{c.name}`" for c in members)
        type_ = types[0] if len(set(types)) == 1 else ", ".join(types)
        rows.append(f"| {names} | {type_} | {description} |")
    return rows


def readme_profile_table() -> str:
    """The README's profile column table, header included."""
    return "\n".join([README_PROFILE_HEADER, "|---|---|---|", *readme_rows(USER_PROFILES)])


def rewrite_readme(path: Path) -> bool:
    """Replace the profile column table in the README at ``path``; True if it changed."""
    text = path.read_text()
    start = text.index(README_PROFILE_HEADER + "\n")
    end = text.index("\n\n", start)
    new = text[:start] + readme_profile_table() + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    readme = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    print(f"{readme}: {'rewritten' if rewrite_readme(readme) else 'already up to date'}")
