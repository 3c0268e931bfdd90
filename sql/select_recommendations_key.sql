-- Whether ml.recommendations still has the primary key of warehouses made before it was
-- dropped (create_factor_tables.sql).
SELECT count(*) > 0
FROM duckdb_constraints()
WHERE schema_name = 'ml' AND table_name = 'recommendations' AND constraint_type = 'PRIMARY KEY';
