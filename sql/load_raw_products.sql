-- Snapshot of the catalogue files in landing/products (CSV). A later row (file name order,
-- then row order) replaces an earlier one with the same product_id.
-- Row numbers below follow file order, which DuckDB keeps only with insertion order on.
SET preserve_insertion_order = true;
CREATE OR REPLACE TEMP TABLE products_staged AS
SELECT *,
       row_number() OVER (PARTITION BY nullif(trim(product_id), '') ORDER BY file_order DESC, file_row DESC) AS newest
FROM (
    SELECT *, list_position($paths, filename) AS file_order,
           row_number() OVER (PARTITION BY filename) AS file_row
    FROM (
        SELECT * FROM (
            SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS title, NULL::VARCHAR AS description,
                   NULL::VARCHAR AS category, NULL::VARCHAR AS brand, NULL::VARCHAR AS price,
                   NULL::VARCHAR AS filename
            WHERE false
        )
        UNION ALL BY NAME
        SELECT * FROM read_csv($paths, all_varchar = true, header = true, union_by_name = true,
                               filename = true)
    )
);
DELETE FROM raw.products;
DELETE FROM raw.snapshot_rejected WHERE table_name = 'products';
INSERT INTO raw.products
SELECT trim(product_id), nullif(trim(title), ''), nullif(trim(description), ''),
       nullif(lower(trim(category)), ''), nullif(trim(brand), ''),
       CASE WHEN try_cast(price AS DOUBLE) >= 0 THEN try_cast(price AS DOUBLE) END,
       filename, $loaded_at
FROM products_staged
WHERE nullif(trim(product_id), '') IS NOT NULL AND newest = 1;
INSERT INTO raw.snapshot_rejected
SELECT 'products', filename, file_row,
       to_json({product_id: product_id, title: title, category: category, brand: brand, price: price})::VARCHAR,
       CASE WHEN nullif(trim(product_id), '') IS NULL THEN 'missing_product_id' ELSE 'superseded_by_later_row' END,
       $loaded_at
FROM products_staged
WHERE nullif(trim(product_id), '') IS NULL OR newest > 1;
SET preserve_insertion_order = false;
