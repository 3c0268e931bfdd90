-- The cleaning's per-day staging table (stage_cleaned_events), gone once the day is written.
DROP TABLE IF EXISTS day_flags;
