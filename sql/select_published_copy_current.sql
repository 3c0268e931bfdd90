-- Whether `pub`, a copy of the previous publish, can be brought up to date in place: it was
-- written in the storage version asked for ($storage_version, recorded in its published
-- table) and its history has the warehouse's columns, in order and with the same types.
-- Otherwise (an older release's copy, a changed schema) it is written afresh.
SELECT
    (SELECT count(*) FROM duckdb_columns()
     WHERE database_name = 'pub' AND table_name = 'published' AND column_name = 'storage_version') = 1
    AND NOT EXISTS (
        SELECT column_index, column_name, data_type FROM duckdb_columns()
        WHERE database_name = 'pub' AND schema_name = 'main' AND table_name = 'user_profiles_history'
        EXCEPT
        SELECT column_index, column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = 'profiles'
          AND table_name = 'user_profiles_history')
    AND (SELECT count(*) FROM duckdb_columns()
         WHERE database_name = 'pub' AND schema_name = 'main' AND table_name = 'user_profiles_history')
        = (SELECT count(*) FROM duckdb_columns()
           WHERE database_name = current_database() AND schema_name = 'profiles'
             AND table_name = 'user_profiles_history');
