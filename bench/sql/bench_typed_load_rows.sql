-- Rows the benchmark's typed load (bench_typed_load_*) kept.
SELECT count(*) FROM events;
