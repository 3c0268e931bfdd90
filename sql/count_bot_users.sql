-- Users flagged as bots over a range of days (cleaned_events metadata).
SELECT count(*) FROM clean.bot_users WHERE event_date BETWEEN $first_day AND $last_day;
