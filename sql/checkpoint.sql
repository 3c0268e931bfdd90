-- Move what the write-ahead log holds into the database file's blocks.
CHECKPOINT;
