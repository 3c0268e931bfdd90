SELECT count(*) FROM meta.schema_state WHERE digest = $digest;
