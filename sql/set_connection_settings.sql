-- Every pipeline connection: UTC days, DuckDB's memory capped at $memory_limit (beyond it,
-- spills to disk), and unordered inserts. Row order of stored tables carries no meaning here
-- (line numbers are columns), and unordered inserts are markedly faster; the few statements
-- that number rows in file order switch it back on for themselves.
SET TimeZone = 'UTC';
SET memory_limit = $memory_limit;
SET preserve_insertion_order = false;
