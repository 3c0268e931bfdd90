-- No snapshot files of this kind landed: its raw table ({table}: raw.users or raw.products)
-- is emptied.
DELETE FROM {table};
