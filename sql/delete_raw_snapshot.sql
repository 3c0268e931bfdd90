-- No snapshot files of this kind landed: its raw table ({table}: raw.users or raw.products)
-- is emptied, and so are the refusals of its previous load (nothing was refused this time).
DELETE FROM {table};
DELETE FROM raw.snapshot_rejected WHERE table_name = $kind;
