-- One block of staged lines, typed (type_staged_events), joins the day's rows under its
-- file's name.
INSERT INTO day_typed
SELECT $source_file, * FROM typed_events($max_id_length, $suppress, $forget_key)
