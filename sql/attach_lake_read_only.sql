-- The DuckDB warehouse read-only, for readers outside a run (retrain sensors, the CLI's
-- summaries): see attach_lake.sql.
ATTACH {catalog} AS lake (DATA_PATH {data_path}, READ_ONLY);
USE lake;
