-- The DuckLake warehouse (lake.py): {catalog} is ducklake:<catalog database>, {data_path} the
-- folder or object-store prefix of its Parquet files (literals: ATTACH takes no parameters).
-- Later statements name tables as in the embedded file (raw.events, ml.recommendations), so
-- the lake is made the default catalog.
ATTACH {catalog} AS lake (DATA_PATH {data_path});
USE lake;
