-- Drop the weekly blocks of $first_week..$last_week whose activity changed since they were
-- built: a day rebuilt, added or forgotten changes its week's row count or latest computed_at.
DELETE FROM features.user_feature_weeks w
WHERE week_start BETWEEN $first_week AND $last_week
  AND NOT EXISTS (
      SELECT 1
      FROM (
          SELECT date_trunc('week', activity_date)::DATE AS week_start, count(*) AS activity_rows,
                 max(computed_at) AS activity_computed_at
          FROM features.user_daily_activity
          WHERE activity_date BETWEEN $first_week AND $last_week::DATE + 6
          GROUP BY 1
      ) a
      WHERE a.week_start = w.week_start AND a.activity_rows = w.activity_rows
        AND a.activity_computed_at = w.activity_computed_at);
DELETE FROM features.user_weekly_activity
WHERE week_start BETWEEN $first_week AND $last_week
  AND week_start NOT IN (SELECT week_start FROM features.user_feature_weeks);
