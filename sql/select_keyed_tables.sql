-- The tables of the warehouse that have a primary key, as (schema, table): prepare_connection
-- drops the key of those made before their schema file dropped it (KEYLESS_TABLES).
SELECT DISTINCT schema_name, table_name
FROM duckdb_constraints()
WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY';
