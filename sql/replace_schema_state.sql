DELETE FROM meta.schema_state;
INSERT INTO meta.schema_state VALUES ($digest);
