-- The day's gathered lines are written (or the day failed): free their memory.
DROP TABLE IF EXISTS day_typed
