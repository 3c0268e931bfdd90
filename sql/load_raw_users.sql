-- Snapshot of the registration files in landing/users (CSV). A later row (file name order,
-- then row order) replaces an earlier one with the same user_id; unusable values become NULL.
-- Row numbers below follow file order, which DuckDB keeps only with insertion order on.
SET preserve_insertion_order = true;
CREATE OR REPLACE TEMP TABLE users_staged AS
SELECT *,
       row_number() OVER (PARTITION BY nullif(trim(user_id), '') ORDER BY file_order DESC, file_row DESC) AS newest
FROM (
    SELECT *, list_position($paths, filename) AS file_order,
           row_number() OVER (PARTITION BY filename) AS file_row
    FROM (
        SELECT * FROM (
            SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS signup_date, NULL::VARCHAR AS age,
                   NULL::VARCHAR AS gender, NULL::VARCHAR AS city, NULL::VARCHAR AS email,
                   NULL::VARCHAR AS phone, NULL::VARCHAR AS filename
            WHERE false
        )
        UNION ALL BY NAME
        SELECT * FROM read_csv($paths, all_varchar = true, header = true, union_by_name = true,
                               filename = true)
    )
);
DELETE FROM raw.users;
DELETE FROM raw.snapshot_rejected WHERE table_name = 'users';
INSERT INTO raw.users
SELECT trim(user_id), try_cast(signup_date AS DATE),
       CASE WHEN try_cast(age AS INTEGER) BETWEEN 0 AND 120 THEN try_cast(age AS INTEGER) END,
       nullif(trim(gender), ''), nullif(trim(city), ''), nullif(trim(email), ''),
       nullif(trim(phone), ''), filename, $loaded_at
FROM users_staged
WHERE nullif(trim(user_id), '') IS NOT NULL AND newest = 1
  AND NOT ($suppress AND sha256($forget_key || ':' || trim(user_id)) IN (SELECT id_hash FROM meta.suppressed_users));
INSERT INTO raw.snapshot_rejected
SELECT 'users', filename, file_row,
       to_json({user_id: user_id, signup_date: signup_date, age: age, gender: gender, city: city})::VARCHAR,
       CASE WHEN nullif(trim(user_id), '') IS NULL THEN 'missing_user_id' ELSE 'superseded_by_later_row' END,
       $loaded_at
FROM users_staged
WHERE (nullif(trim(user_id), '') IS NULL OR newest > 1)
  AND NOT ($suppress AND sha256($forget_key || ':' || trim(user_id)) IN (SELECT id_hash FROM meta.suppressed_users));
-- forgotten users' rows are counted, with nothing of them kept
INSERT INTO raw.snapshot_rejected
SELECT 'users', filename, file_row, NULL, 'suppressed_user', $loaded_at
FROM users_staged
WHERE $suppress AND nullif(trim(user_id), '') IS NOT NULL
  AND sha256($forget_key || ':' || trim(user_id)) IN (SELECT id_hash FROM meta.suppressed_users);
SET preserve_insertion_order = false;
