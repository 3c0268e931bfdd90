-- Run by SQLite itself on a new SQLite catalog file, before DuckLake creates its tables:
-- write-ahead logging, so readers of the catalog are not blocked while another process
-- commits (the mode is kept in the file).
PRAGMA journal_mode=WAL;
