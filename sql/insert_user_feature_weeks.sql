-- Build the weekly blocks of the weeks $first_week..$last_week (Mondays) that have activity
-- and no block yet, and sign each with its activity's row count and latest computed_at
-- (delete_user_feature_weeks_stale drops a block whose signature no longer matches).
CREATE OR REPLACE TEMP TABLE new_weeks AS
SELECT *
FROM (
    SELECT date_trunc('week', activity_date)::DATE AS week_start, count(*) AS activity_rows,
           max(computed_at) AS activity_computed_at
    FROM features.user_daily_activity
    WHERE activity_date BETWEEN $first_week AND $last_week::DATE + 6
    GROUP BY 1
)
WHERE week_start NOT IN (SELECT week_start FROM features.user_feature_weeks);
INSERT INTO features.user_weekly_activity
SELECT
    date_trunc('week', activity_date)::DATE AS week_start,
    user_id,
    count(*),
    min(activity_date),
    max(activity_date),
    max(activity_date) FILTER (WHERE purchases > 0),
    sum(events), sum(views), sum(carts), sum(purchases), sum(orders), sum(sessions),
    sum(items_bought),
    sum(revenue), sum(refunds),
    sum(priced_purchases), sum(price_ratio_sum), sum(purchases_below_median),
    sum(events_night), sum(events_morning), sum(events_afternoon), sum(events_evening),
    sum(events) FILTER (WHERE isodow(activity_date) = 1),
    sum(events) FILTER (WHERE isodow(activity_date) = 2),
    sum(events) FILTER (WHERE isodow(activity_date) = 3),
    sum(events) FILTER (WHERE isodow(activity_date) = 4),
    sum(events) FILTER (WHERE isodow(activity_date) = 5),
    sum(events) FILTER (WHERE isodow(activity_date) = 6),
    sum(events) FILTER (WHERE isodow(activity_date) = 7)
FROM features.user_daily_activity
WHERE activity_date BETWEEN $first_week AND $last_week::DATE + 6
  AND date_trunc('week', activity_date)::DATE IN (SELECT week_start FROM new_weeks)
GROUP BY week_start, user_id;
INSERT INTO features.user_feature_weeks SELECT *, $now FROM new_weeks;
DROP TABLE new_weeks;
