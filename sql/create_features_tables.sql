-- Behavioural features. user_daily_activity (and its category/brand breakdowns) hold one day
-- each; user_features reads only a 90-day window of them, never the event history.
CREATE SCHEMA IF NOT EXISTS features;

CREATE TABLE IF NOT EXISTS features.user_daily_activity (
    activity_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    events INTEGER NOT NULL,
    views INTEGER NOT NULL,
    carts INTEGER NOT NULL,
    purchases INTEGER NOT NULL,           -- purchase events (order lines)
    orders INTEGER NOT NULL,              -- sessions with at least one purchase
    returns INTEGER NOT NULL,
    searches INTEGER NOT NULL,
    reviews INTEGER NOT NULL,
    sessions INTEGER NOT NULL,
    items_bought INTEGER NOT NULL,
    revenue DOUBLE NOT NULL,              -- sum of price x quantity over purchases
    refunds DOUBLE NOT NULL,              -- sum of price x quantity over returns
    distinct_products INTEGER NOT NULL,
    distinct_categories INTEGER NOT NULL,
    active_hours INTEGER NOT NULL,        -- distinct UTC hours with an event
    first_event_at TIMESTAMP NOT NULL,    -- UTC
    last_event_at TIMESTAMP NOT NULL,
    events_night INTEGER NOT NULL,        -- 00-06 UTC
    events_morning INTEGER NOT NULL,      -- 06-12
    events_afternoon INTEGER NOT NULL,    -- 12-18
    events_evening INTEGER NOT NULL,      -- 18-24
    priced_purchases INTEGER NOT NULL,    -- purchases whose category has a median list price
    price_ratio_sum DOUBLE NOT NULL,      -- sum of paid price / category median list price
    purchases_below_median INTEGER NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS features.user_daily_category (
    activity_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    events INTEGER NOT NULL,
    purchases INTEGER NOT NULL,
    revenue DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS features.user_daily_brand (
    activity_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    brand VARCHAR NOT NULL,
    events INTEGER NOT NULL,
    purchases INTEGER NOT NULL,
    revenue DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS features.user_features (
    feature_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    signup_date DATE,
    tenure_days INTEGER,                  -- feature_date - signup_date; NULL without registration
    first_seen_date DATE NOT NULL,        -- within the 90-day window
    last_seen_date DATE NOT NULL,
    last_purchase_date DATE,              -- NULL: no purchase in the window
    days_since_last_visit INTEGER NOT NULL,
    days_since_last_purchase INTEGER,
    active_days_7d INTEGER NOT NULL, active_days_30d INTEGER NOT NULL, active_days_90d INTEGER NOT NULL,
    events_7d INTEGER NOT NULL, events_30d INTEGER NOT NULL, events_90d INTEGER NOT NULL,
    sessions_7d INTEGER NOT NULL, sessions_30d INTEGER NOT NULL, sessions_90d INTEGER NOT NULL,
    purchases_7d INTEGER NOT NULL, purchases_30d INTEGER NOT NULL, purchases_90d INTEGER NOT NULL,
    orders_7d INTEGER NOT NULL, orders_30d INTEGER NOT NULL, orders_90d INTEGER NOT NULL,
    revenue_7d DOUBLE NOT NULL, revenue_30d DOUBLE NOT NULL, revenue_90d DOUBLE NOT NULL,
    refunds_90d DOUBLE NOT NULL,
    items_bought_90d INTEGER NOT NULL,
    aov_30d DOUBLE,                       -- revenue / orders; NULL without orders
    aov_90d DOUBLE,
    view_to_cart_90d DOUBLE,              -- carts / views; NULL without views
    cart_to_purchase_90d DOUBLE,          -- purchases / carts; NULL without carts
    top_categories STRUCT(name VARCHAR, share DOUBLE)[],  -- 90d events; top 5 + '(other)', sums to 1
    top_category VARCHAR,
    top_category_share DOUBLE,
    top_brands STRUCT(name VARCHAR, share DOUBLE)[],
    top_brand VARCHAR,
    price_ratio_90d DOUBLE,               -- mean paid price / category median list price
    share_below_median_90d DOUBLE,        -- share of priced purchases below the category median
    preferred_hour_band VARCHAR,          -- night, morning, afternoon, evening (90d events, UTC)
    preferred_weekday VARCHAR,            -- Monday..Sunday (90d events)
    rfm_recency INTEGER NOT NULL,         -- quintile scores 1..5 (5 = best); see features.rfm_edges
    rfm_frequency INTEGER NOT NULL,
    rfm_monetary INTEGER NOT NULL,
    rfm_code VARCHAR NOT NULL,            -- e.g. R5F4M3
    computed_at TIMESTAMPTZ NOT NULL
);

-- Quintile edges (20/40/60/80th percentiles over the day's purchasers) behind the RFM scores.
CREATE TABLE IF NOT EXISTS features.rfm_edges (
    feature_date DATE NOT NULL,
    metric VARCHAR NOT NULL,              -- days_since_last_purchase, orders_90d, revenue_90d
    edges DOUBLE[] NOT NULL,
    purchasers INTEGER NOT NULL
);
