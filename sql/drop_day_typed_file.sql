-- A file that could not be read to its end leaves nothing behind.
DELETE FROM day_typed WHERE source_file = $source_file
