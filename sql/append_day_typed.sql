-- One block of typed lines (type_staged_events) joins the day's rows under its file's name.
INSERT INTO day_typed SELECT $source_file, * FROM typed
