DELETE FROM clean.events WHERE event_date = $day;
DELETE FROM clean.events_quarantine WHERE event_date = $day;
DELETE FROM clean.bot_users WHERE event_date = $day;
