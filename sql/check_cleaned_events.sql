-- Figures behind the cleaned_events checks for a range of days.
SELECT
    (SELECT count(*) - count(DISTINCT event_id) FROM clean.events
     WHERE event_date BETWEEN $first_day AND $last_day) AS duplicate_event_ids,
    (SELECT count(*) FROM clean.events
     WHERE event_date BETWEEN $first_day AND $last_day AND (user_id IS NULL OR user_id = '')) AS null_user_ids,
    (SELECT count(*) FROM clean.events
     WHERE event_date BETWEEN $first_day AND $last_day AND ts > (cleaned_at AT TIME ZONE 'UTC') + INTERVAL 10 MINUTE) AS future_timestamps,
    (SELECT count(*) FROM raw.events WHERE partition_date BETWEEN $first_day AND $last_day) AS raw_rows,
    (SELECT count(*) FROM clean.events WHERE event_date BETWEEN $first_day AND $last_day) AS clean_rows,
    (SELECT count(*) FROM clean.events_quarantine
     WHERE event_date BETWEEN $first_day AND $last_day) AS quarantined_rows;
