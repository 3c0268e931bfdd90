-- Copy the whole warehouse ({source}, its catalog name) into a fresh file at {path} (a
-- literal): only live rows are written, so deleted rows' bytes do not survive in the new file.
ATTACH {path} AS forget_compacted;
COPY FROM DATABASE {source} TO forget_compacted;
DETACH forget_compacted;
